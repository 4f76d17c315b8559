# make demo: set up, then a small study on the offline data (about 10 minutes), then its
# report, all under demo/ (untracked; DEMO_OUT and DEMO_LOGS choose other folders).
# make test: set up, then the test suite, its files spread over TEST_JOBS workers.
# make reproduce: the full paper grid on CIFAR-10.
# make study: the reference study into docs/results/study (docs/study.md); it resumes when
# run again. `make study STUDY_JOBS=2` runs two at once; STUDY_ARGS="--part image" one part.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_LOGS ?= demo/runs
DEMO_OUT ?= demo/report
SEEDS ?= 0
STUDY_JOBS ?= 2
STUDY_ARGS ?=
TEST_JOBS ?= 2

.PHONY: setup test demo study reproduce bench paras gpu-check

setup: $(STAMP)

# The pinned requirements, then this project itself, editable (pyproject.toml): its
# packages import from any folder and its commands (cifar-train, helmholtz-sweep, ...)
# are in $(VENV)/bin.
$(STAMP): pyproject.toml requirements.txt requirements-ray.txt requirements-test.txt requirements-nodeps.txt
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  for p in dataset-fashion-mnist fluid-soundfont-gm lame; do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi; \
	else \
	  echo "setup: no root or no apt-get, so no Debian packages: Fashion-MNIST (30 MB) and the FluidR3 soundfont (120 MB) are downloaded, checksum-checked, on first use (see HELMHOLTZ_DOWNLOAD_MIRROR in README.md)"; \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-ray.txt -r requirements-test.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile tests

demo: setup
	$(PY) scripts/demo.py --log_dir $(DEMO_LOGS) --out $(DEMO_OUT)

study: setup
	$(PY) scripts/study.py --part all --jobs $(STUDY_JOBS) $(STUDY_ARGS)

reproduce: setup
	bash cifar/train-all-cnns.sh --seeds $(SEEDS) --levels 1 5 10 15 20 25 50 75 100 lossless
	bash cifar/train-all-settings.sh --seeds $(SEEDS)
	$(PY) scripts/report.py logs --out docs/results/paper

bench: setup
	$(PY) scripts/bench.py

# Training on GPU 0: float32 and mixed precision, a 4-run sweep on one GPU (docs/performance.md).
# Without a GPU it says so in one line and exits 1.
gpu-check: setup
	$(PY) scripts/gpu_check.py

paras: setup
	$(PY) cifar/models.py
	$(PY) audio/models.py
