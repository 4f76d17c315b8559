"""The audio codecs other than MP3: lined up with the source at every level of their grid
(lag 0, the source's length), deterministic, near their bitrate, and their payload as
docs/method.md defines it; the run folders and bad levels that name them."""
import numpy as np
import pytest
import scipy.signal

from audio import SPEC
from helmholtz.data import codecs
from helmholtz.errors import UsageError

SR = 44100
OTHERS = [name for name in SPEC.codecs if name != "mp3"]


def noise_clip(seconds=1.0, seed=0):
    """Coloured noise with a decaying envelope: a sharp autocorrelation peak."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = scipy.signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n)) * 0.02
    return (x * np.exp(-np.arange(n) / SR)).astype(np.float32)


def lag_of_peak(reference, decoded):
    c = scipy.signal.correlate(decoded, reference, mode="full", method="fft")
    return int(np.argmax(c)) - (len(reference) - 1)


@pytest.fixture(scope="module")
def clip():
    return noise_clip()


@pytest.mark.parametrize("name", OTHERS)
def test_decoded_clips_line_up_at_every_level(name, clip):
    codec = codecs.room(SPEC, name)
    odd = clip[:SR // 2 + 123]
    for kbps in codec.LEVELS:
        decoded, sizes = codec.roundtrip(clip, SR, kbps)
        assert decoded.dtype == np.float32 and len(decoded) == len(clip), kbps
        assert lag_of_peak(clip, decoded) == 0, kbps
        assert 0 < sizes.payload < sizes.total and sizes.pcm == 2 * len(clip)
        assert len(codec.roundtrip(odd, SR, kbps)[0]) == len(odd)


@pytest.mark.parametrize("name", OTHERS)
def test_same_clip_gives_the_same_sizes_and_samples(name, clip):
    codec = codecs.room(SPEC, name)
    first, again = codec.roundtrip(clip, SR, 64), codec.roundtrip(clip, SR, 64)
    assert first[1] == again[1] and np.array_equal(first[0], again[0])


@pytest.mark.parametrize("name", ["opus", "aac"])
def test_bitrate_is_held(name, clip):
    codec = codecs.room(SPEC, name)
    for kbps in (32, 64, 128):
        payload_kbps = codec.roundtrip(clip, SR, kbps)[1].payload * 8 / (len(clip) / SR) / 1000
        assert payload_kbps == pytest.approx(kbps, rel=0.15), kbps


def test_more_bits_decode_closer(clip):
    for name in OTHERS:
        codec = codecs.room(SPEC, name)
        low, high = (codec.roundtrip(clip, SR, kbps) for kbps in (codec.LEVELS[0], codec.LEVELS[-1]))
        error = [np.mean((clip - decoded) ** 2) for decoded, _ in (low, high)]
        assert high[1].total > low[1].total and error[1] < error[0], name


def test_aac_payload_leaves_out_the_adts_headers(clip):
    from audio import pyav_rooms
    data, payload = pyav_rooms.encode(clip, SR, "aac", "adts", 64, {})
    frames, offset = 0, 0
    while offset < len(data):  # ADTS: 0xFFF sync, the frame length in 13 bits at bit 30
        assert data[offset] == 0xFF and data[offset + 1] >> 4 == 0xF
        offset += ((data[offset + 3] & 3) << 11) | (data[offset + 4] << 3) | (data[offset + 5] >> 5)
        frames += 1
    assert payload == len(data) - 7 * frames


def test_vorbis_payload_leaves_out_its_header_packets(clip):
    codec = codecs.room(SPEC, "vorbis")
    sizes = codec.roundtrip(clip, SR, 128)[1]
    assert sizes.total - sizes.payload > 3000  # the three header packets and the page headers


def test_opus_payload_leaves_out_the_ogg_pages_and_headers(clip):
    sizes = codecs.room(SPEC, "opus").roundtrip(clip, SR, 64)[1]
    assert sizes.payload * 8 / 1000 / (len(clip) / SR) == pytest.approx(64, rel=0.05)
    assert 0 < sizes.total - sizes.payload < 0.1 * sizes.total


@pytest.mark.parametrize("name, kbps", [("aac", 8), ("vorbis", 32), ("vorbis", 256), ("opus", 320)])
def test_a_level_outside_a_codecs_range_is_refused(name, kbps):
    with pytest.raises(UsageError, match="outside"):
        codecs.room(SPEC, name).check_level(kbps)


def test_run_folders_name_the_codec_and_bitrate():
    assert codecs.level_tag(SPEC, 32) == "bitrate_32"
    assert codecs.level_tag(SPEC, 64, "opus") == "opus_64k"
    assert codecs.level_tag(SPEC, 64, "mp3", 40.0) == "mp3_64k_noise40"


def test_the_data_step_caches_a_codec_with_known_noise_apart(tmp_path):
    import soundfile
    from audio import data
    for c, name in enumerate(("high", "low")):
        (tmp_path / "src" / name).mkdir(parents=True)
        for i in range(5):
            soundfile.write(tmp_path / "src" / name / f"{name}_{i}.wav", noise_clip(0.3, 10 * c + i),
                            SR, subtype="PCM_16")
    plain = data.load_split(64, "train", tmp_path / "src", tmp_path / "cache")
    coded = data.load_split(64, "train", tmp_path / "src", tmp_path / "cache", codec="opus",
                            noise=30.0)
    again = data.load_split(64, "train", tmp_path / "src", tmp_path / "cache", codec="opus",
                            noise=30.0)
    assert coded["data"].shape == plain["data"].shape and "noise_bits" not in plain
    assert not np.array_equal(coded["data"], plain["data"]) and (coded["noise_bits"] > 0).all()
    assert np.array_equal(coded["data"], again["data"])
    tags = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_dir() and "_" in p.name)
    assert tags == ["bitrate_64", "opus_64k_noise30"]
