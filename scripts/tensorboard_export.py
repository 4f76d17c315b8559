"""Write TensorBoard event files from the history.csv of every run below a log folder;
see helmholtz/report/tensorboard.py.

    python scripts/tensorboard_export.py logs/ --out tb/
    tensorboard --logdir tb/
"""
from helmholtz.errors import cli_main
from helmholtz.report.tensorboard import main

if __name__ == "__main__":
    cli_main(main)
