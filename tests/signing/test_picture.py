import io

import pytest
from PIL import Image, ImageChops, ImageDraw

from signing.fonts import sans_font, sans_font_path, serif_font_path
from signing.picture import SEAL_RED, check_png, draw_round_seal


def _glyph_bitmap(char: str) -> Image.Image:
    font = sans_font(64)
    image = Image.new("L", (80, 80), 0)
    ImageDraw.Draw(image).text((8, 0), char, font=font, fill=255)
    return image


def test_fonts_come_from_the_bundled_noto_package():
    assert sans_font_path().name == "NotoSansSC-Regular.otf"
    assert serif_font_path().name == "NotoSerifSC-Regular.otf"
    assert "pylopdf_fonts_zh_cn" in str(sans_font_path())
    assert sans_font_path().is_file()


def test_chinese_glyphs_are_drawn_not_notdef_boxes():
    notdef = _glyph_bitmap("\ue000")  # a private-use code point the font has no glyph for
    glyphs = {char: _glyph_bitmap(char) for char in "福州市监督章"}
    for char, bitmap in glyphs.items():
        assert bitmap.getbbox() is not None, f"{char} rendered nothing"
        assert ImageChops.difference(bitmap, notdef).getbbox() is not None, f"{char} rendered as .notdef"
    bitmaps = list(glyphs.values())
    for index, first in enumerate(bitmaps):
        for second in bitmaps[index + 1 :]:
            assert ImageChops.difference(first, second).getbbox() is not None


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


@pytest.mark.slow
def test_seal_picture_is_a_transparent_red_round_png():
    data = draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章")
    assert check_png(data) == (480, 480)
    image = _image(data)
    assert image.getpixel((0, 0))[3] == 0  # transparent corner
    assert image.getpixel((240, 240))[:3] == SEAL_RED[:3]  # the star's centre
    ring_pixel = image.getpixel((240, 18))  # on the ring at 12 o'clock
    assert ring_pixel[3] > 200 and ring_pixel[0] > 150 and ring_pixel[1] < 80
    opaque = [p for p in image.get_flattened_data() if p[3] == 255]
    assert all(p[0] > p[1] and p[0] > p[2] for p in opaque)  # only red ink


@pytest.mark.slow
def test_seal_name_and_type_change_the_picture():
    base = _image(draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章"))
    other_name = _image(draw_round_seal(organization_name="厦门市市场监督管理局", seal_type="电子证照专用章"))
    other_type = _image(draw_round_seal(organization_name="福州市市场监督管理局", seal_type="审批专用章"))
    assert ImageChops.difference(base, other_name).getbbox() is not None
    diff_type = ImageChops.difference(base, other_type).getbbox()
    assert diff_type is not None and diff_type[1] > 240  # the type text sits below the centre


def test_seal_picture_limits():
    with pytest.raises(ValueError):
        draw_round_seal(organization_name="", seal_type="公章")
    with pytest.raises(ValueError):
        draw_round_seal(organization_name="局" * 41, seal_type="公章")


def test_check_png_refuses_non_png():
    with pytest.raises(ValueError):
        check_png(b"GIF89a....")
    with pytest.raises(ValueError):
        check_png(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
