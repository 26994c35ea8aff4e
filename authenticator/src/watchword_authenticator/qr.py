"""Read the text of a QR code from an image file (a screenshot of the enrolment page, a saved
PNG), with zxing-cpp; everything runs locally."""

from __future__ import annotations

from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

from watchword_authenticator.errors import ImageUnreadable, QrCodeNotFound

MAX_PIXELS = 40_000_000  # a screenshot is far smaller; refuse decompression bombs early


def decode_qr_file(path: str | Path) -> str:
    """The text of the one QR code in the image; clear errors for a missing or unreadable file,
    an image with no QR code, or one with several different codes."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageUnreadable(f"{path} is too large an image to scan.")
            greyscale = _to_greyscale(image)
    except FileNotFoundError:
        raise ImageUnreadable(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise ImageUnreadable(f"{path} is a folder, not an image file.") from None
    except PermissionError:
        raise ImageUnreadable(f"{path}: permission denied.") from None
    except UnidentifiedImageError:
        raise ImageUnreadable(f"{path} is not an image file this program can read (try PNG or JPEG).") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageUnreadable(f"{path} could not be read as an image ({exc}).") from None
    texts = {barcode.text for barcode in zxingcpp.read_barcodes(greyscale, formats=zxingcpp.BarcodeFormat.QRCode)
             if barcode.valid and barcode.text}
    if not texts:
        raise QrCodeNotFound(f"No QR code was found in {path}.")
    if len(texts) > 1:
        raise QrCodeNotFound(f"{path} holds {len(texts)} different QR codes; crop it to the one to add.")
    return texts.pop()


def _to_greyscale(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white (a transparent PNG's background would read as black)."""
    image.load()
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        background.alpha_composite(rgba)
        image = background
    return image.convert("L")
