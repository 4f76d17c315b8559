"""`python -m audio` and the installed `audio-train`: audio/train.py from any folder."""
from audio.train import main
from helmholtz.errors import cli_main


def command():
    return cli_main(main)


if __name__ == "__main__":
    command()
