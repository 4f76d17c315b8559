"""`python -m cifar` and the installed `cifar-train`: cifar/train.py from any folder."""
from cifar.train import command

if __name__ == "__main__":
    command()
