"""Guitar/bass effects clips under MP3 (and other codecs): the audio half of the study.

`SPEC` is all the core needs to know of this domain (helmholtz.domain)."""
from helmholtz.domain import Domain, lazy

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
# Keras 2's Adadelta defaults, as the original ran them (Keras 3's learning rate is 0.001).
OPTIMIZER = {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7}

# The codecs, one room (module) each, MP3 the default (helmholtz.data.codecs); FLAC sizes the
# lossless reference of them all.
CODECS = {"mp3": "audio.codec", "opus": "audio.codec_opus", "aac": "audio.codec_aac",
          "vorbis": "audio.codec_vorbis"}

SPEC = Domain(
    name=DOMAIN, level_name=LEVEL_NAME, level_label="MP3 bitrate, kbps",
    parse_level=lazy("audio.data:parse_level"), default_level=PAPER_LEVEL,
    levels=DEFAULT_LEVELS, full_levels=FULL_LEVELS, paper_level=PAPER_LEVEL,
    models=MODELS, default_dataset=DEFAULT_DATASET, batch_size=50, optimizer=OPTIMIZER,
    add_flags=lazy("audio.protocol:add_flags"), settings=lazy("audio.protocol:settings"),
    read_split=lazy("audio.protocol:read_split"), hold_out=lazy("audio.protocol:hold_out_split"),
    describe=lazy("audio.protocol:describe"), build_model=lazy("audio.protocol:build_model"),
    make_transform=lazy("audio.protocol:transform_for"),
    make_optimizer=lazy("audio.protocol:make_optimizer"),
    libraries=("librosa", "lameenc", "soundfile"),
    run_flags=("skip_bad",),  # a file it skips shows in the data's sizes and checksum
    codecs=CODECS, level_short="{}k", sensor_noise=(6.0, 96.0, "an SNR in dB"),
)
