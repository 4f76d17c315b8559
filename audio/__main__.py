"""`python -m audio` and the installed `audio-train`: audio/train.py from any folder."""
from audio.train import command

if __name__ == "__main__":
    command()
