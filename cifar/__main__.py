"""`python -m cifar` and the installed `cifar-train`: cifar/train.py from any folder."""
from cifar.train import main
from helmholtz.errors import cli_main


def command():
    return cli_main(main)


if __name__ == "__main__":
    command()
