"""Guitar/bass effects clips under MP3 compression: the audio half of the study."""
DOMAIN = "audio"
LEVEL_NAME = "bitrate"
MODELS = ("cnn_x3_mlp_0", "cnn_x4_mlp_128", "cnn_x3_mlp_64_128", "cnn_x3_mlp_128",
          "cnn_x3_mlp_128x2", "cnn_x2_mlp_128")
CLASSES = ("NoFX", "Chorus", "Distortion", "EQ", "FeedbackDelay", "Flanger", "Overdrive",
           "Phaser", "Reverb", "SlapbackDelay", "Tremolo", "Vibrato")
DEFAULT_DATASET = "generated"  # the built-in IDMT-like set; --data for real IDMT
BITRATES = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
DEFAULT_LEVELS = (8, 16, 32, 64, 96, 128)  # the original's scripts: setting 0 at each
FULL_LEVELS = DEFAULT_LEVELS + (160,)      # quantize.py also made 160; no script trained on it
PAPER_LEVEL = 32  # the level the original ran the five other models at
SAMPLE_RATE = 44100
