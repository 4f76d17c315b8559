"""CIFAR-10 (and Fashion-MNIST) under JPEG compression: the image half of the study."""
DOMAIN = "cifar"
LEVEL_NAME = "quality"
MODELS = ("all-cnns", "cnns-dense-64", "all-cnnsx2", "cnns-x2-dense-128",
          "cnns-dense-128", "cnns-dense-128-256")
DATASETS = ("cifar10", "fashion-mnist")
DEFAULT_DATASET = "cifar10"
DEFAULT_LEVELS = (1, 5, 10, 15, 20, 25, 50, 75, 100)  # the original's nine
PAPER_LEVEL = 25  # the level the original ran the five other models at
NUM_CLASSES = 10
