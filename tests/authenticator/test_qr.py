"""Reading a QR code from an image file, made the way the server makes its codes (segno)."""

from __future__ import annotations

import pytest
import segno
from PIL import Image
from watchword_authenticator.errors import ImageUnreadable, QrCodeNotFound
from watchword_authenticator.payload import ActivationPayload, OtpauthPayload, parse_payload
from watchword_authenticator.qr import decode_qr_file

from tests.authenticator.support import EXAMPLE_URI

ACTIVATION = ("watchword-push://activate?server=https%3A%2F%2Fmfa.contoso.example&code=Q7M2KX9P"
              "&account=adele%40contoso.example&issuer=Contoso")


@pytest.mark.parametrize(("text", "kind"), [(EXAMPLE_URI + "&algorithm=SHA1&digits=6&period=30", OtpauthPayload),
                                            (ACTIVATION, ActivationPayload)])
def test_a_segno_png_decodes_to_its_payload(tmp_path, text, kind):
    path = tmp_path / "qr.png"
    segno.make(text).save(path, scale=5)

    decoded = decode_qr_file(path)

    assert decoded == text
    assert isinstance(parse_payload(decoded), kind)


def test_a_qr_code_on_a_transparent_background_decodes(tmp_path):
    path = tmp_path / "qr.png"
    segno.make(ACTIVATION, error="m").save(path, scale=5, light=None)

    assert decode_qr_file(path) == ACTIVATION


def test_an_image_without_a_qr_code_is_reported(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(path)

    with pytest.raises(QrCodeNotFound, match="No QR code"):
        decode_qr_file(path)


def test_a_file_that_is_not_an_image_is_reported(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")

    with pytest.raises(ImageUnreadable, match="not an image file"):
        decode_qr_file(path)


def test_a_missing_image_file_is_reported(tmp_path):
    with pytest.raises(ImageUnreadable, match="no such file"):
        decode_qr_file(tmp_path / "missing.png")
