"""demo/inputs/images.py: upright RGB images, downscaling, data URLs for the server."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from demo.inputs.images import IMAGE_MAX_PIXELS, downscale, image_part, load_image, to_data_url

ORIENTATION = 0x0112


def jpeg_bytes(img: Image.Image, orientation: int | None = None) -> bytes:
    buf = io.BytesIO()
    if orientation is None:
        img.save(buf, "JPEG", quality=95)
    else:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        img.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def red_left_blue_right(width=40, height=20) -> Image.Image:
    img = Image.new("RGB", (width, height), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, width // 2, height))
    return img


def near(pixel, expected, tol=12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(pixel, expected))


@pytest.mark.parametrize("kind", ["bytes", "path", "pil"])
def test_exif_orientation_6_is_applied(tmp_path, kind):
    data = jpeg_bytes(red_left_blue_right(), orientation=6)
    if kind == "bytes":
        source = data
    elif kind == "path":
        source = tmp_path / "rotated.jpg"
        source.write_bytes(data)
        source = str(source)
    else:
        source = Image.open(io.BytesIO(data))
    img = load_image(source)
    assert img.mode == "RGB"
    assert img.size == (20, 40)  # transposed
    # Orientation 6: rotate 90 degrees clockwise to display, so the left (red) half ends on top.
    assert near(img.getpixel((10, 5)), (255, 0, 0), tol=40)
    assert near(img.getpixel((10, 34)), (0, 0, 255), tol=40)


def test_no_orientation_keeps_the_size():
    img = load_image(jpeg_bytes(red_left_blue_right(), orientation=1))
    assert img.size == (40, 20)
    assert load_image(jpeg_bytes(red_left_blue_right())).size == (40, 20)


def test_rgba_goes_over_white():
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (0, 0, 4, 8))
    rgba.paste((0, 0, 255, 128), (4, 0, 8, 8))
    img = load_image(png_bytes(rgba))
    assert img.mode == "RGB"
    assert img.getpixel((1, 1)) == (255, 0, 0)
    assert near(img.getpixel((6, 1)), (127, 127, 255), tol=2)
    assert load_image(Image.new("RGBA", (4, 4), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)


def test_la_goes_over_white():
    la = Image.new("LA", (4, 4), (0, 0))
    assert load_image(la).getpixel((0, 0)) == (255, 255, 255)
    assert load_image(Image.new("LA", (4, 4), (0, 255))).getpixel((0, 0)) == (0, 0, 0)


def test_palette_images():
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    assert load_image(png_bytes(pal)).getpixel((0, 0)) == (0, 0, 255)
    transparent = pal.copy()
    transparent.paste(0, (0, 0, 2, 4))
    transparent.info["transparency"] = 0
    img = load_image(png_bytes(transparent))
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)  # index 0 is transparent: white, not red
    assert img.getpixel((3, 0)) == (0, 0, 255)


def grey16(value: int, mode: str = "I;16", size=(5, 6)) -> Image.Image:
    dtype = ">u2" if mode == "I;16B" else "<u2"
    img = Image.frombytes(mode, size, np.full(size[::-1], value, dtype=dtype).tobytes())
    assert img.mode == mode
    return img


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
@pytest.mark.parametrize("value,expected", [(32768, 128), (65535, 255), (0, 0), (16384, 64)])
def test_16_bit_grey_is_scaled_to_8_bits(mode, value, expected):
    img = load_image(grey16(value, mode))
    assert img.mode == "RGB"
    assert img.size == (5, 6)
    assert near(img.getpixel((0, 0)), (expected,) * 3, tol=1)
    assert near(img.getpixel((4, 5)), (expected,) * 3, tol=1)


def test_16_bit_grey_is_not_clipped_to_white():
    # PIL's own convert("RGB") clips every value above 255 to white: mid-grey must stay mid-grey.
    assert load_image(grey16(32768)).getpixel((0, 0))[0] < 200
    assert load_image(grey16(65535)).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize("value,expected", [(32768, 128), (65535, 255)])
def test_16_bit_png_round_trip(tmp_path, value, expected):
    data = png_bytes(grey16(value))
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I")  # really stored as 16 bits
    from_bytes = load_image(data)
    assert from_bytes.mode == "RGB" and from_bytes.size == (5, 6)
    assert near(from_bytes.getpixel((2, 3)), (expected,) * 3, tol=1)
    path = tmp_path / "grey16.png"
    path.write_bytes(data)
    assert near(load_image(str(path)).getpixel((0, 0)), (expected,) * 3, tol=1)


def test_16_bit_gradient_keeps_its_order():
    arr = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (4, 1))
    img = load_image(Image.frombytes("I;16", (256, 4), arr.astype("<u2").tobytes()))
    row = [img.getpixel((x, 0))[0] for x in range(256)]
    assert row[0] == 0 and row[-1] == 255
    assert all(a <= b for a, b in zip(row, row[1:]))
    assert len(set(row)) > 200  # not collapsed to a few levels


def test_32_bit_integer_grey():
    assert near(load_image(Image.new("I", (3, 3), 32768)).getpixel((0, 0)), (128, 128, 128), tol=1)
    assert load_image(Image.new("I", (3, 3), 65535)).getpixel((0, 0)) == (255, 255, 255)
    assert load_image(Image.new("I", (3, 3), 77)).getpixel((0, 0)) == (77, 77, 77)  # already 8-bit values


@pytest.mark.parametrize("as_jpeg", [False, True])
def test_cmyk_becomes_rgb(as_jpeg):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red
    source = jpeg_bytes(cmyk) if as_jpeg else cmyk
    img = load_image(source)
    assert img.mode == "RGB"
    assert near(img.getpixel((4, 4)), (255, 0, 0), tol=20)


def test_grey_becomes_rgb():
    img = load_image(Image.new("L", (3, 3), 77))
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (77, 77, 77)


@pytest.mark.parametrize("size,max_pixels", [
    ((4000, 3000), 1_000_000), ((1000, 4000), 250_000), ((5000, 5000), IMAGE_MAX_PIXELS),
    ((4000, 3000), IMAGE_MAX_PIXELS), ((12000, 9000), IMAGE_MAX_PIXELS), ((3001, 1999), IMAGE_MAX_PIXELS),
])
def test_downscale_gives_the_processors_own_size(size, max_pixels):
    """Exactly what transformers' Qwen ``smart_resize`` makes of the original for the same budget, so the
    server's resize is the identity and the visual tokens are the original's."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    out = downscale(Image.new("RGB", size), max_pixels)
    h, w = smart_resize(size[1], size[0], factor=32, min_pixels=32 * 32, max_pixels=max_pixels)
    assert out.size == (w, h)
    assert w % 32 == 0 and h % 32 == 0 and w * h <= max_pixels
    assert abs(w / h - size[0] / size[1]) < 0.05  # aspect kept, up to whole patches


@pytest.mark.parametrize("size", [(10, 10), (640, 480), (1280, 1024)])
def test_downscale_never_upscales(size):
    img = Image.new("RGB", size)
    out = downscale(img, 1280 * 1024)
    assert out.size == size
    assert out is img


def test_image_part_is_a_jpeg_data_url_within_the_limit():
    big = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")  # 12 MP, quick to encode
    part = image_part(png_bytes(big))
    assert part["type"] == "image_url"
    url = part["image_url"]["url"]
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    decoded = Image.open(io.BytesIO(base64.b64decode(url[len(prefix):], validate=True)))
    assert decoded.format == "JPEG"
    assert decoded.mode == "RGB"
    assert decoded.width * decoded.height <= IMAGE_MAX_PIXELS
    assert decoded.size == (1312, 960)  # Qwen's smart_resize of 4000x3000 for 1280 tokens: 41 x 30 patches


def test_image_part_of_a_small_rgba_png(tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGBA", (30, 20), (0, 0, 0, 0)).save(path)
    url = image_part(str(path))["image_url"]["url"]
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == (30, 20)
    assert near(decoded.getpixel((15, 10)), (255, 255, 255), tol=3)


def test_to_data_url_round_trip():
    img = Image.new("RGB", (16, 8), (10, 200, 30))
    url = to_data_url(img)
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == (16, 8)
    assert near(decoded.getpixel((8, 4)), (10, 200, 30), tol=6)


# --- upload checks ------------------------------------------------------------------------------------------

def test_check_image_accepts_a_real_image(tmp_path):
    from demo.inputs.images import check_image

    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes(red_left_blue_right()))
    assert check_image(str(path)) is None


@pytest.mark.parametrize("content", [b"just some text, not an image\n", b""])
def test_check_image_refuses_non_images(tmp_path, content):
    from demo.errors import ImageError
    from demo.inputs.images import check_image

    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(ImageError) as err:
        check_image(str(path))
    assert err.value.code == "image_unreadable"
    assert "fake.png" in str(err.value)


def test_check_image_refuses_truncated_data(tmp_path):
    from demo.errors import ImageError
    from demo.inputs.images import check_image

    data = png_bytes(Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as err:
        check_image(str(path))
    assert err.value.code == "image_unreadable"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_check_image_refuses_huge_images_before_decoding(tmp_path):
    from demo.errors import ImageError
    from demo.inputs.images import UPLOAD_MAX_PIXELS, check_image

    path = tmp_path / "huge.png"
    Image.new("1", (11000, 11000)).save(path)  # 121 MP, a few KB on disk
    assert 11000 * 11000 > UPLOAD_MAX_PIXELS
    with pytest.raises(ImageError) as err:
        check_image(str(path))
    assert err.value.code == "image_too_large"
    assert "huge.png" in str(err.value)
    assert "121 megapixels" in str(err.value)
    assert err.value.fields == {"name": "huge.png", "size": "121 megapixels", "limit": UPLOAD_MAX_PIXELS / 1e6}
    assert "the limit is 120 megapixels" in str(err.value)


def test_pil_refuses_what_uploads_refuse():
    import demo.inputs.images

    assert demo.inputs.images.UPLOAD_MAX_PIXELS == 120_000_000
    assert Image.MAX_IMAGE_PIXELS == demo.inputs.images.UPLOAD_MAX_PIXELS


def test_check_image_refuses_images_over_twice_the_limit_as_too_large(tmp_path):
    from demo.errors import ImageError
    from demo.inputs.images import UPLOAD_MAX_PIXELS, check_image

    path = tmp_path / "bomb.png"
    Image.new("1", (16000, 16000)).save(path)  # 256 MP, a few tens of KB on disk
    assert 16000 * 16000 > 2 * UPLOAD_MAX_PIXELS
    with pytest.raises(ImageError) as err:
        check_image(str(path))
    assert err.value.code == "image_too_large"
    assert "bomb.png" in str(err.value)
    assert "240 megapixels" in str(err.value)
    assert "the limit is 120 megapixels" in str(err.value)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_check_image_between_the_limit_and_twice_it(tmp_path):
    from demo.errors import ImageError
    from demo.inputs.images import UPLOAD_MAX_PIXELS, check_image

    path = tmp_path / "big.png"
    Image.new("L", (14000, 14000)).save(path)  # 196 MP
    assert UPLOAD_MAX_PIXELS < 14000 * 14000 < 2 * UPLOAD_MAX_PIXELS
    with pytest.raises(ImageError) as err:
        check_image(str(path))
    assert err.value.code == "image_too_large"
    assert err.value.fields["size"] == "196 megapixels"
    assert "“big.png” is too large (196 megapixels)" in str(err.value)


def test_check_image_accepts_an_image_of_exactly_the_limit(tmp_path):
    from demo.inputs.images import check_image

    path = tmp_path / "edge.png"
    Image.new("1", (10000, 12000)).save(path)  # exactly 120 MP: allowed
    assert check_image(str(path)) is None
