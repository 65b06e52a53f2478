"""``fixres.photos``: JPEGs decoded as TensorFlow's default decode, bit for bit.

TF's ``tf.io.decode_image(channels=3)`` / ``tf.io.decode_jpeg`` (what tfds and the Keras
example use) decode with libjpeg-turbo's fast integer IDCT and fancy upsampling;
``decode_photo`` does the same through simplejpeg. Every kind of JPEG is checked here on
a small file kept below (tf_flowers itself holds only baseline 4:4:4 YCbCr JPEGs: see
``tests/datasets/test_real_archive.py``) against the SHA-256 of TF's decode of it,
measured with TensorFlow 2.21 and checked again wherever TensorFlow is installed, so
these tests prove bit-identity on every backend, TensorFlow or not.

The arithmetic-coded files were made with ``jpegtran -arithmetic`` (libjpeg-turbo 2.1.5),
the YCCK one with ``simplejpeg.encode_jpeg(colorspace="CMYK")``, the rest with PIL.
"""

from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
import pytest
import simplejpeg
from PIL import Image

from fixres_kedro.fixres import photos
from fixres_kedro.fixres.errors import UnreadablePhotoError
from fixres_kedro.fixres.photos import (
    MAX_DECODE_SIDE,
    SIGNATURE_BYTES,
    check_photo,
    decode_photo,
    decode_photos,
    default_workers,
    photo_signature,
    share_cores,
)

WIDTH, HEIGHT = 22, 15  # not a whole number of 16x16 MCUs: the edges are upsampled too

# name: (SHA-256 of tf.io.decode_image(data, channels=3).numpy().tobytes(), base64 data)
FIXTURES: dict[str, tuple[str, str]] = {
    "baseline-444": (  # baseline, 4:4:4 (every tf_flowers photo); YCbCr 444, 695 bytes
        "873b99256b57d14559fc0afbddb19befbd512aafe13154e4563a567cf8b4724a",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4R"
        "DgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU"
        "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAPABYDAREAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAA"
        "CAYH/8QAJhAAAgIBAgYCAwEAAAAAAAAAAQIDESEGEgAEBQcTMSJRFEFxQv/EABgBAAIDAAAAAAAAAAAAAAAAAAcI"
        "AgMG/8QAJxEAAQQBAwMFAAMAAAAAAAAAAQIRITEDABJBBlFhBAUTInGBkaH/2gAMAwEAAhEDEQA/ADBonQpXk0m8"
        "DjaqhVdSgD7rDm8C/jnAsEgiyTrCtONQKGc/6NrkRZ7uXbgis3sSpiSCoQb4YXcPAcuGcQQElontzyYijeZAUk2y"
        "MFhIZWUZUZx9fdn2eJY82QrAxlhTuGt3oPwSRA7DVOZWXeUgPPf+A8l2n8VAHBiu7GiI317ykkpj5lX6TG7boQyo"
        "TLJgnOb3Yofvhfum8gHtpBU33LMWhh58DxUnTC9IFQ9uWVSAsh7pKeITzYevOrHt/oqSALMy+RC4YfFDsVzRIs1e"
        "67FV/RwfsaceXHu2zxfDW5p/JvnQDzenWEhCvrcQxUKm2mHlohhpLaC0QvKxp+UyySrOkbNZ3FyKFVX+fZJyPYPE"
        "VoBJ+BJEQA0Wb7WzAGTWq22OlRlQfkQ9i+eGB7VOd95u2kPUtX9P8fleSTpMTq8cu20WWUWQcZsfyvXAM6SUtPoc"
        "iFCPkUwNOyXoguP60xvQ68ifbV5NwQQsiIjamIFOD+3r/9k=",
    ),
    "baseline-420": (  # baseline, 4:2:0; YCbCr 420, 479 bytes
        "c842ff3a988e12063c2138522802de147d0418a9d40288f8baa7d3af570acdb0",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQa"
        "FRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCAAPABYDASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAA"
        "BwAC/8QAJhAAAgECBgIBBQAAAAAAAAAAAQIRAyEABAUGEjFBURMHFCJh4f/EABYBAQEBAAAAAAAAAAAAAAAAAAUG"
        "B//EAB8RAAEDBQADAAAAAAAAAAAAAAEAAiEDBAURQTFh8P/aAAwDAQACEQMRAD8AH9t6ERlxU+JhxAADKVAaZDXs"
        "Jt6uDBE3WNt7cy3BXqKOLQximQwIFwL29e79nGdp6I6AVGXkpYHpfxVjBI/cz4wtbV0MUkH3DBnWqqkyZLdDqPHk"
        "m47Bw0C4SDHpEuafBhBG+9DRt00XqFKobIIxmmCFJd7Te/frFhO+om2aWZ3BleHyMz5CmwZakSoeoLg28/zFiDxt"
        "MutKZ3qFsWHYDY0iTz7q/9k=",
    ),
    "baseline-422": (  # baseline, 4:2:2; YCbCr 422, 534 bytes
        "2d53e0ca51989637f5c5f9953c105d266c2fe554de2a3f1928d1ce97091ef92b",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQa"
        "FRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCAAPABYDASEAAhEBAxEB/8QAFwAAAwEAAAAAAAAAAAAAAAAA"
        "AAUHBv/EACYQAAIBAgYCAQUAAAAAAAAAAAECEQMhAAQFBhIxQVETBxQiYeH/xAAWAQEBAQAAAAAAAAAAAAAAAAAH"
        "BQb/xAAnEQABAgQFAwUAAAAAAAAAAAABAAIDESHwBAUiMcESUWEUQYHh8f/aAAwDAQACEQMRAD8Aj+29CIy4qfEw"
        "4gABlKgNMhr2E29XBgib1jbe3MtwV6iji0MYpkMCBcC9vXu/ZxbbEIdJnF35Ud0wNNbuqQb70NG3TReoUqhsgjGa"
        "YIUl3tN79+sGD3ARAMLD1EUGxS/lLiMFDn27T5Ce7T0R0AqMvJSwPS/irGCR+5nxitbV0MUkH3DBnWqqkyZLdDqP"
        "Hkm47BwgdLS0Foqb9/j7RG6GWOM/xZb6ibZpZncGV4fIzPkKbBlqRKh6guDbz/MGMTlTj6OGCBt54KZ8livbgIWu"
        "VNq8Bf/Z",
    ),
    "baseline-440": (  # baseline, 4:4:0; YCbCr 440, 514 bytes
        "69b29d3a285a4119c801dab8aa6405a837257cd572459f739b6fb4f4644bf4ca",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQa"
        "FRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCAAPABYDARIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAA"
        "BwL/xAAmEAACAQIGAgEFAAAAAAAAAAABAhEDIQAEBQYSMUFREwcUImHh/8QAFwEAAwEAAAAAAAAAAAAAAAAAAAUH"
        "Av/EACYRAAIAAwcEAwAAAAAAAAAAAAECABEhBAZRYXGx8BIxQdFCkeH/2gAMAwEAAhEDEQA/AB/behEZcVPiYcQA"
        "AylQGmQ17CbergwRN1baeiOgFRl5KWB6X8VYwSP3M+MOh1MOpOU2yhUysoE1r65hpnW29uZbgr1FHFoYxTIYEC4F"
        "7evd+zhY2roYpIPuGDOtVVJkyW6HUePJNx2DgDOrdyZYfeEYZSSay865/sBG+9DRt00XqFKobIIxmmCFJd7Te/fr"
        "Cd9RNs0szuDK8PkZnyFNgy1IlQ9QXBt5/mJtd9S1kZZykx2HDFTuqgaxMZ/I7CnfX1H/2Q==",
    ),
    "baseline-411": (  # baseline, 4:1:1; YCbCr 411, 496 bytes
        "c2c329272d15978e8a9864e0f9492999737325c84eeb5dd45f73ee8af3e5568d",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQa"
        "FRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCAAPABYDAUEAAhEBAxEB/8QAFwAAAwEAAAAAAAAAAAAAAAAA"
        "AAUHBv/EACYQAAIBAgYCAQUAAAAAAAAAAAECEQMhAAQFBhIxQVETBxQiYeH/xAAVAQEBAAAAAAAAAAAAAAAAAAAD"
        "Bf/EACQRAAAFAgUFAAAAAAAAAAAAAAABAgMRBCEFBiNhcTFBUbHB/9oADAMBAAIRAxEAPwCP7b0IjLip8TDiAAGU"
        "qA0yGvYTb1cGCJvWNt7cy3BXqKOLQximQwIFwL29e79nCDfeho26aL1ClUNkEYzTBCku9pvfv1gwONOard4KFdOU"
        "ixk8zKpc8Rz3D3aeiOgFRl5KWB6X8VYwSP3M+MVrauhikg+4YM61VUmTJbodR48k3HYOMt9RNs0szuDK8PkZnyFN"
        "gy1IlQ9QXBt5/mDCYpaobgrQr2neQ+SjU3VOwqLfdh//2Q==",
    ),
    "progressive-444": (  # progressive, 4:4:4; YCbCr 444, 938 bytes
        "873b99256b57d14559fc0afbddb19befbd512aafe13154e4563a567cf8b4724a",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4R"
        "DgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU"
        "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wgARCAAPABYDAREAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAA"
        "BwUG/8QAGAEAAgMAAAAAAAAAAAAAAAAABgcBAgX/2gAMAwEAAhADEAAAAS/WzUmaRV8wrB+ApcVzoMx//8QAHRAA"
        "AwAABwAAAAAAAAAAAAAAAQQFAAIDERIUIv/aAAgBAQABBQJJHwlOybVkh356RGEEuIszRqN//8QAJBEAAQMCBAcA"
        "AAAAAAAAAAAAAQACESHBAwQF8BQxQVFxgdH/2gAIAQMBAT8BgHynl0xvd1pE8OZ72HpPwzEGn1cqHqtDLhli6YrY"
        "L//EACERAAICAQIHAAAAAAAAAAAAAAECABEFIVIDIiQxQcHw/9oACAECAQE/AbCnT7SK7XyzGt03fzFCst1CNgmJ"
        "JHAYHcfU/8QAHhAAAgEEAwEAAAAAAAAAAAAAAREAAgMhMSJBYSP/2gAIAQEABj8CagfedSklVfIdemPc5ZLUtps2"
        "ho+mf//EAB0QAQEAAgIDAQAAAAAAAAAAAAERACExQbHh8PH/2gAIAQEAAT8hmL6CCTd58ZcHUKbidYqILNsPhyCy"
        "LeDQ+8ErAKe7+Zv4SGGjD//aAAwDAQACAAMAAAAQkf8AP//EAB0RAAMBAQADAQEAAAAAAAAAAAERITFBAFFxYYH/"
        "2gAIAQMBAT8QkJIIQ7xDdjgZYTEIDMA77/gdLV+QBwmB6AMPc4TrQ8/fAQ9yREMuqx1SIeKyUH0R6N7xA+sqRDBi"
        "SYQYwfu+f//EAB0RAQEAAgMBAQEAAAAAAAAAAAERITEAQWFRkaH/2gAIAQIBAT8QSGa/0yTG37WzpNIIoatJu3Re"
        "lTB8OAIYzkZiHvh5rLzsR1vqbrq+u++GrYxgJjbv5uQHLrhRYwDqytI0/Of/xAAbEAEBAQADAQEAAAAAAAAAAAAB"
        "ESEAMUFxUf/aAAgBAQABPxBIXAkTYdwvrCiiVUBVkEANG5+fte3iuxSEuS7t6Q94LQSNbYpWXVJPpzcQsNMhJPpX"
        "TseepMai6jm0+Trn/9k=",
    ),
    "progressive-420": (  # progressive, 4:2:0; YCbCr 420, 689 bytes
        "35b74c9f92191c660ed41226bca9c19d93d96b844394566c66d6a1b4a9370795",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsj"
        "HBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo"
        "KCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wgARCAAPABYDASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAA"
        "BgAC/8QAFgEBAQEAAAAAAAAAAAAAAAAABAUG/9oADAMBAAIQAxAAAAEulymScbIaVo//xAAaEAEAAwADAAAAAAAA"
        "AAAAAAADAAQRASEj/9oACAEBAAEFAhLoQ4lsveuUAslwNb//xAAYEQACAwAAAAAAAAAAAAAAAAAAAQIEI//aAAgB"
        "AwEBPwFldZRP/8QAGBEAAwEBAAAAAAAAAAAAAAAAAAEDESH/2gAIAQIBAT8B6RWzR//EABsQAAEEAwAAAAAAAAAA"
        "AAAAAAABAhAhIkFy/9oACAEBAAY/AixN4xY3k//EABwQAQACAgMBAAAAAAAAAAAAAAEAESExQWGxwf/aAAgBAQAB"
        "PyHfr5KojDnUG5rDx2xDOzy5W5thDqXadPbP/9oADAMBAAIAAwAAABA73//EABgRAQADAQAAAAAAAAAAAAAAAAEA"
        "MUHw/9oACAEDAQE/EA1UJRc7Z//EABoRAAICAwAAAAAAAAAAAAAAAAABESExQWH/2gAIAQIBAT8QlLWOD2Z0f//E"
        "AB8QAQABBQACAwAAAAAAAAAAAAERACExQWFRcYGh4f/aAAgBAQABPxBwT2ABMps819xE3iAsKIohg8ftIhRZkoLu"
        "85oUZIjgsyTs8ogkAxm841zc/FXsUxgsDv3X/9k=",
    ),
    "restart-intervals": (  # 4:2:0, a restart marker every MCU row; YCbCr 420, 810 bytes
        "c842ff3a988e12063c2138522802de147d0418a9d40288f8baa7d3af570acdb0",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQa"
        "FRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCAAPABYDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAA"
        "AAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAk"
        "M2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKT"
        "lJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QA"
        "HwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdh"
        "cRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hp"
        "anN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk"
        "5ebn6Onq8vP09fb3+Pn6/90ABAAC/9oADAMBAAIRAxEAPwDx/wAN6ERbiTymG0AAMpUBs5Dc8DPHpyDgjPPrHhvw"
        "5bbFeRRtbDHEZDAgcgc8enrz1NN8J6I6ASMu5SwPRflVjgke+c9q9a8K6GIkH2hgzrKqk5OS3QdMdu5PI6g17Scl"
        "qnp5Hkyi9noeEeO9DRvFMLyFJQ1gjHMYIUl34zzz19KK9O+InhmK58QWuzzGZ7CNgyyYyoeQcg8d/wD61FfB5bTc"
        "sJTd7aH7Fk8E8DSbfT+up//Z",
    ),
    "arithmetic": (  # arithmetic-coded, 4:2:0; YCbCr 420, 393 bytes
        "c842ff3a988e12063c2138522802de147d0418a9d40288f8baa7d3af570acdb0",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQa"
        "FRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/yQARCAAPABYDASIAAhEBAxEB/8wACgAQEAUBEBEF/9oADAMBAAIR"
        "AxEAPwD/ALhketTO6OaQTYgE7s6Mur0js0poGjd6GKq/bnH91l7/ACk3sFXF3yUxEkf6T4U1Fy5esaFQ3ahdKW4z"
        "tCZ+o6GD5z+hT0xsfPUy3qH2iC9eYbM8I0fH6Nu26Rvi/dwWcG+QN+2pUmCWiNdL8kdbLtMtSHUM0NDyW7l/zkMa"
        "5g+9OhfRFaM/EGruMdtvR+zBdHVi9jhzQMLi+G4NBLKTZlMRWT3n6SfzbNNughEjawuzpwG4mTJe5d6z4P/Z",
    ),
    "arithmetic-progressive": (  # arithmetic-coded progressive, 4:2:0; YCbCr 420, 526 bytes
        "c842ff3a988e12063c2138522802de147d0418a9d40288f8baa7d3af570acdb0",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQa"
        "FRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/ygARCAAPABYDASIAAhEBAxEB/8wABgAQARD/2gAMAwEAAhADEAAA"
        "Af8AcLTjCB4LfQW9S1kTjMD/zAAEEAX/2gAIAQEAAQUCFXGQYhCpJnceQBjPwfEoZlOw/8wABBEF/9oACAEDAQE/"
        "ASf1oah33P/MAAQRBf/aAAgBAgEBPwFmUEYW8+n/zAAEEAX/2gAIAQEABj8Cey+GNRU5aSLZAN6gjmRtoP/MAAQQ"
        "Bf/aAAgBAQABPyFL9SzeWcH4egoKcuFvA3efiKzUolRye4f3V483P/gHzjj/2gAMAwEAAgADAAAAEFEg/8wABBEF"
        "/9oACAEDAQE/EGLgV3CTKVvAgP/MAAQRBf/aAAgBAgEBPxDrov16b9bWkP/MAAQQBf/aAAgBAQABPxACRCoF9ET3"
        "YbaVhAAZi08qFQAOThpJw0qLByGf3cfQubrEwIxsGYSvoS25Gv8Aupn2WjL9ZYuuV3G9PEbRdLzm2NwVEaD/2Q==",
    ),
    "grayscale": (  # grayscale, baseline; Gray Gray, 363 bytes
        "074ec5b8673b1a56dc73f08849c6682aa08ad238f0795f096be7413f752b1cb5",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4R"
        "DgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/wAALCAAPABYBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACP/EACcQAAIC"
        "AQMCBQUAAAAAAAAAAAECAxEEBhIhBzEAExQiIxUyQVFx/9oACAEBAAA/ABdoPRuP6Yyx4mM6bQmTJNvCM5B3IzML"
        "uzYNc0ORQtJaF0RL9Jx4MpFxsGIlGbchcd02sdv6YW1EfIAaAbwjemHTgZ2PkRY0EayJ8h82WwVYL9rBmsAhhf5F"
        "dyDRl6fdPpWyok3K6mNJXGPGqKxZ2k28kHYCH/or2giyn9B6CxfTenx8NcJFxrlnhl5PK7huILe0N354ZgASa8I7"
        "SuiY8rFME+JFBe4vJEqSu5SR1HEgIAsvzd3wAB3/AP/Z",
    ),
    "grayscale-progressive": (  # grayscale, progressive; Gray Gray, 479 bytes
        "074ec5b8673b1a56dc73f08849c6682aa08ad238f0795f096be7413f752b1cb5",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4R"
        "DgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/wgALCAAPABYBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAB//aAAgBAQAA"
        "AAEWSUcyT0f/xAAZEAACAwEAAAAAAAAAAAAAAAACBAEFEhP/2gAIAQEAAQUCQTHKKU8qyu2NfXzpBAcqpQQ//8QA"
        "IRAAAgEDBAMBAAAAAAAAAAAAAQIAESEiEmFx8DFBYoH/2gAIAQEABj8CqFX6JihsUHe8xgoFfNzBxXEfs0qmjG5B"
        "lCoG4v73n//EACEQAQEAAgEDBQEAAAAAAAAAAAERACExQWHRUXGBkaHB/9oACAEBAAE/IdoRJTF6iuTWaS0vpHXf"
        "nyycIfAZw174gqJCgDVj258ZogD6Nd86v65132gJiP6z/9oACAEBAAAAEM//xAAbEAEBAQEBAAMAAAAAAAAAAAAB"
        "ESExAEFhcf/aAAgBAQABPxCjL0y0Yi2tGbDSFrKrYntn0FhMDA8PRxbiHBQEF+SdRl5kOidQjKfsmEr1Q3ddhQ4d"
        "bgArPIL+mvKwIFd23ADv/9k=",
    ),
    "rgb-colorspace": (  # RGB components (Adobe transform 0), not YCbCr; RGB 444, 758 bytes
        "a0830a100721776926c35e2c231156498a163e5ae9d2fa32c5f0a6b121006ebf",
        "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwADAgIDAgIDAwMDBAMDBAUIBQUEBAUKBwcGCAwKDAwLCgsLDQ4SEA0OEQ4L"
        "CxAWEBETFBUVFQwPFxgWFBgSFBUU/8AAEQgADwAWA1IRAEcRAEIRAP/EABYAAQEBAAAAAAAAAAAAAAAAAAgHCf/E"
        "ACoQAAICAQMDBAIBBQAAAAAAAAECAxEEBhIhAAcTBSIxQQhhURQjMjRC/9oADANSAEcAQgAAPwAW6K7epLh42SUE"
        "uRAq48kb7lVXDKA2/wCgCyVR5/XPRr0ToeRMHf8A080UICmJWTxAOXJWQhuF3UtmgNwYqV3W0t0ZpCPAihyMbGgX"
        "JI3HyxVvTxhyKs2zWASSDQvkc9IrTXb8rOFeFZUmdJpBGpWRXC7VUnc38Ff0/wAXyCltCdsvShgxz5S+x1EjKMZg"
        "yFVBZFo0t3VEBjdlj8hL9u9HlsnEERjxoG2qJA8Z2lXLFkJA3CgCSLA3H7HSH0now7jPlCPPh8QiEhgEwSjYDAUg"
        "ay/xz7T83fUX/LXQcM3er01n8WR5dOwzyJJANiO2RN/1TG7DUCB9/wAdZy6Z0vjr6dG0+TtT3GEQKEVQWIIJBPut"
        "RwOANvJ4PUA0f2yysXGiWZWgR3ZjDH49jSGhuVvmi0hNEDgEcUAa9250u2NOMj/YjLI3kKLuhhkJDEA8brBsVV88"
        "g9aIdsdBQZnpiZb4KzSySjwqKYbTW69zjguTwSas/wCQ46SOgNCr6bGY/UJozkzsjSSrvUgE8MpU2avm6J4Fe3lN"
        "aB0WIIoWy3Wd4MpIGLEszy7QoFALzt4LFiCByDfCS0X2+ihaRsbFlx5IvGmPHDIi7HYM1BvpK3EEUTuNgWekFojt"
        "5JnenJkx5Zw8ho1RWx3MP9tSV27VG0Cwfivj4+yfvzU7XYXq3dz0SOKOfKeXTeNN5FmFlVyMgBmD8EkMP2KoADrP"
        "DQ3btsrBkxzAXieR5oYjIQvDEOTtcEsCyj6FfA+a/9k=",
    ),
    "cmyk-adobe": (  # Adobe marker: inverted, as Photoshop writes; CMYK, 953 bytes
        "1744e212ea0a0da6005365b703da3164a8a507e26d6d7ab838429f1141a3579e",
        "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwADAgIDAgIDAwMDBAMDBAUIBQUEBAUKBwcGCAwKDAwLCgsLDQ4SEA0OEQ4L"
        "CxAWEBETFBUVFQwPFxgWFBgSFBUU/8AAFAgADwAWBEMRAE0RAFkRAEsRAP/EABgAAQEBAQEAAAAAAAAAAAAAAAgH"
        "BgkF/8QAKhAAAgIBAwMEAgMAAwAAAAAAAQIDEQQGEiEFBzEAExQiCDIjQlFBYnH/2gAOBEMATQBZAEsAAD8AbOsN"
        "bieCNcaWSDIESKJn+wj2/cVuoN9f2rg2p4PpI671m0/zRM+ahi3s0kyOFr9pF4Bo1vNci64PJ9VPXWuI8vBXHOaZ"
        "1aQAEgp7u91UvbFuQS4LAA/byC1H1+5fdeKJ8jEb2Z4yhkfHEm8owJryv2BQWbs23NWfRl1zqv20ylJcI6IxixCy"
        "SN9VjosWAO2ybKkWGrkN6N/cHXk69QkzisqRrA01Qzs8a2SzbW5UKaYEUQxUDgOCTnrPuQMt5kMk2PlvvSO+I4tw"
        "UudoYKSGSQ2SLNkAih6134Va5kkh7hIhKTQv0+UOP3iI+USGNgMQvtjn/wA4JFH3r2veptlyydKzIcZmldl+RG3t"
        "FCbbbQ+h3cbDbCjZ/wBuf4a9woIez+dmZOTHIrdcmjE80IND4uKQBGoHDEOQeaC1fNeuhGu9f47dVDwzZSORuT4s"
        "THYpALKdvJs0bJIHihXO/wBUa2wpJlXNnTFQfeMyMFRgSwvlQtkqSAAKXb5rhG9wNUNhp8jInxp8KNY796FnECsR"
        "sCAgknkGySLPI4sxbuNqbK6dDkSmQy57SCKMG1tWYb9zA7gd5IsE+OKsn0Bta6qWSOaRSskaRrLG7WGjUx3f1UGi"
        "eNo54vjggC681tP1COXFkWQzzCVocltqbZAg3qSNxK/2vzwv+cGbX2p5IkDkqw2xqrOQzRx+2av6AOCCFKkc/wDU"
        "WfRq19ryTB6HlLA0T/wPLlhEKo0ZtSoFDk0aIqgKN0LLncDW+Qc7qEqRBcbxlI7s6BdtBApI3cShj4HAA5HO8/Dj"
        "XuTjZ/csRiOVHg6bIvulqER+QlBKIB3MfBH1kYCr+sC1Xq7JzcyOHKRkWKJGSBZGeRAQRy4ZR/U8C74s/UAWj8Su"
        "42T0Ds71R5JG6dlTakyTt8KV+Pjn9o7NgMvkm/JNj10I1f1mDJynw5YJW92QZBdUVd5CL/wHFD+Qnz/fxxxutb9x"
        "IMdmzHMF5EoZhJ7i7RTKopVYE2klm/NnjdXr/9k=",
    ),
    "cmyk-no-adobe-marker": (  # CMYK without an Adobe marker (read uninverted); CMYK 444, 937 bytes
        "ae612286b092ea94e1babe4a0f045d606418fa0f544581e0fb2b44cd1cd30679",
        "/9j/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYU"
        "GBIUFRT/wAAUCAAPABYEQxEATREAWREASxEA/8QAGAABAQEBAQAAAAAAAAAAAAAACAcGCQX/xAAqEAACAgEDAwQC"
        "AwADAAAAAAABAgMRBAYSIQUHMQATFCIIMiNCUUFicf/aAA4EQwBNAFkASwAAPwBs6w1uJ4I1xpZIMgRIomf7CPb9"
        "xW6g31/auDang+kjrvWbT/NEz5qGLezSTI4Wv2kXgGjW81yLrg8n1U9da4jy8Fcc5pnVpAASCnu73VS9sW5BLgsA"
        "D9vILUfX7l914onyMRvZnjKGR8cSbyjAmvK/YFBZuzbc1Z9GXXOq/bTKUlwjojGLELJI31WOixYA7bJsqRYauQ3o"
        "39wdeTr1CTOKypGsDTVDOzxrZLNtblQppgRRDFQOA4JOes+5Ay3mQyTY+W+9I74ji3BS52hgpIZJDZIs2QCKHrXf"
        "hVrmSSHuEiEpNC/T5Q4/eIj5RIY2AxC+2Of/ADgkUfeva96m2XLJ0rMhxmaV2X5Ebe0UJtttD6HdxsNsKNn/AG5/"
        "hr3Cgh7P52Zk5Mcit1yaMTzQg0Pi4pAEagcMQ5B5oLV8166Ea71/jt1UPDNlI5G5PixMdikAsp28mzRskgeKFc7/"
        "AFRrbCkmVc2dMVB94zIwVGBLC+VC2SpIAApdvmuEb3A1Q2GnyMifGnwo1jv3oWcQKxGwICCSeQbJIs8jizFu42ps"
        "rp0ORKZDLntIIowbW1Zhv3MDuB3kiwT44qyfQG1rqpZI5pFKyRpGssbtYaNTHd/VQaJ42jni+OCALrzW0/UI5cWR"
        "ZDPMJWhyW2ptkCDepI3Er/a/PC/5wZtfankiQOSrDbGqs5DNHH7Zq/oA4IIUqRz/ANRZ9GrX2vJMHoeUsDRP/A8u"
        "WEQqjRm1KgUOTRoiqAo3QsudwNb5BzuoSpEFxvGUjuzoF20ECkjdxKGPgcADkc7z8ONe5ONn9yxGI5UeDpsi+6Wo"
        "RH5CUEogHcx8EfWRgKv6wLVersnNzI4cpGRYokZIFkZ5EBBHLhlH9TwLviz9QBaPxK7jZPQOzvVHkkbp2VNqTJO3"
        "wpX4+Of2js2Ay+Sb8k2PXQjV/WYMnKfDlglb3ZBkF1RV3kIv/AcUP5CfP9/HHG61v3Egx2bMcwXkShmEnuLtFMqi"
        "lVgTaSWb82eN1ev/2Q==",
    ),
    "ycck-adobe": (  # YCCK (Adobe transform 2); YCCK 444, 773 bytes
        "7e626c346a9dfe0ee9aff3d26cf0cda8c8ef4e99b7ccc8da7fafa3ed164b79a1",
        "/9j/7gAOQWRvYmUAZAAAAAAC/9sAQwAFAwQEBAMFBAQEBQUFBgcMCAcHBwcPCwsJDBEPEhIRDxERExYcFxMUGhUR"
        "ERghGBodHR8fHxMXIiQiHiQcHh8e/9sAQwEFBQUHBgcOCAgOHhQRFB4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
        "Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e/8AAFAgADwAWBAERAAIRAQMRAQQRAP/EABcAAQEBAQAAAAAAAAAAAAAA"
        "AAYFBwj/xAArEAACAgAEBQMDBQAAAAAAAAABAgMRBAYSIQAFEzFBMlFhBwiBI0JxocH/xAAYAQEAAwEAAAAAAAAA"
        "AAAAAAAHAQMFAv/EACsRAAECBAQEBgMAAAAAAAAAAAERIQACMWEDQVFxBBKBoQUGIjKx0RPh8P/aAA4EAQACEQMR"
        "BAAAPwDYMy86MiyKZJ1ZR6mBr3P5q/64xVBlAUEHupRc9lrd42ZSw5KoNGSmi3ifkzKbsseIXqxsGCrIU0hhXwdi"
        "GPihtxk+aeeOJpJSHUdPVUbmhffe6rv4NkfPHUmIJhyq6o/1+x1isYYEpl2sdLU7PmDET7j+RIsmWGYBo5FxaEH0"
        "yA9EAgVYBOs7fz27o/p1mCsuzTLOm+NcBnjsV04+ygbWb96rvwjeZOU8YAF9opua9vpoLvMwxjxoGE3p6e6ZXyRm"
        "rBnknJMUsZbCxPM3pcIupgQAa2N0LFkk219vMLNnNJYUklZ1drCrYOwJ3373fyf94O5DLOwpXt0a0KQRiU5R1TRB"
        "s79Q0dLZX5JFh3SdGTpxlBJELa1LHSQNgD+2u254yTNPO3iwkugoRouXbbSQRVVvfFbzYpKN/XuvxEfjWcE2TUNs"
        "4sa2eDf3C8ggkwuUi5dGWXGIdAG8g6TbtsTsPbuoO/lDkPns0OW5xJqhdsc5C/GhPKn5Hk3+OEfx/Aw8TihKi+kH"
        "5yW/eDLzLIcbjZQQoEg3rNqgyyg7lnLssijDKJf0kIBTQb3BJskUKZNvah44/9k=",
    ),
    "exif-rotated": (  # EXIF orientation 6 (not applied); YCbCr 420, 565 bytes
        "5fdced1cc8778f96bbd86a37449e2b2f54f1298539547b85fc071ee9b191957b",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/4QAiRXhpZgAATU0AKgAAAAgAAQESAAMAAAABAAYAAAAAAAD/2wBDAAMCAgMC"
        "AgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQME"
        "BAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAAR"
        "CAAPABYDASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAACAAD/8QAJhAAAgIBAgYCAwEAAAAAAAAAAQIDESEG"
        "EgAEBQcTMSJRFEFxQv/EABYBAQEBAAAAAAAAAAAAAAAAAAYHCP/EACYRAAEBBwEJAAAAAAAAAAAAAAECAAMEBREh"
        "8CISMkFRYaHR4fH/2gAMAwEAAhEDEQA/ADBonQpXk0m8DjaqhVdSgD7rDm8C/jnAsEgiySktE9ueTEUbzICkm2Rg"
        "sJDKyjKjOPr7s+zxn2/0VJAFmZfIhcMPih2K5okWavddiq/o4S2gtELysaflMskqzpGzWdxcihVV/n2Scj2Dwsqt"
        "NFA2PL5lmNLQrdIpmd7MOO7GiI317ykkpj5lX6TG7boQyoTLJgnOb3Yofvi4QfebtpD1LV/T/H5Xkk6TE6vHLttF"
        "llFkHGbH8r1xcRqUuiuAcnappHA56bUkhdpVK4clVNPTyG//2Q==",
    ),
}


def jpeg(name: str) -> bytes:
    return base64.b64decode(FIXTURES[name][1])


def digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def tf_decode(data: bytes, tf) -> np.ndarray:
    return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()


def frame_marker(data: bytes) -> int:
    """The SOFn marker's second byte (0xC0 baseline, 0xC2 progressive, 0xC9/0xCA arithmetic)."""
    position = 2
    while data[position + 1] not in (0xC0, 0xC1, 0xC2, 0xC9, 0xCA):
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return data[position + 1]


# --- every kind of JPEG: TF's pixels, bit for bit ---------------------------------------


@pytest.mark.parametrize("name", list(FIXTURES))
def test_each_kind_of_jpeg_decodes_as_tensorflow_bit_for_bit(name):
    data = jpeg(name)
    pixels = decode_photo(data)
    assert pixels.dtype == np.uint8
    assert pixels.shape == (HEIGHT, WIDTH, 3)  # EXIF orientation is not applied either
    assert digest(pixels) == FIXTURES[name][0]
    assert check_photo(data) == (WIDTH, HEIGHT)


@pytest.mark.parametrize("name", list(FIXTURES))
def test_the_kept_digests_are_tensorflows_decode(name):
    tf = pytest.importorskip("tensorflow")
    data = jpeg(name)
    assert digest(tf_decode(data, tf)) == FIXTURES[name][0]
    assert digest(tf.io.decode_jpeg(data, channels=3).numpy()) == FIXTURES[name][0]


def test_the_kept_files_are_the_kinds_they_are_named_after():
    kinds = {
        name: (frame_marker(jpeg(name)), *simplejpeg.decode_jpeg_header(jpeg(name))[2:])
        for name in FIXTURES
    }
    assert kinds == {
        "baseline-444": (0xC0, "YCbCr", "444"),
        "baseline-420": (0xC0, "YCbCr", "420"),
        "baseline-422": (0xC0, "YCbCr", "422"),
        "baseline-440": (0xC0, "YCbCr", "440"),
        "baseline-411": (0xC0, "YCbCr", "411"),
        "progressive-444": (0xC2, "YCbCr", "444"),
        "progressive-420": (0xC2, "YCbCr", "420"),
        "restart-intervals": (0xC0, "YCbCr", "420"),
        "arithmetic": (0xC9, "YCbCr", "420"),
        "arithmetic-progressive": (0xCA, "YCbCr", "420"),
        "grayscale": (0xC0, "Gray", "Gray"),
        "grayscale-progressive": (0xC2, "Gray", "Gray"),
        "rgb-colorspace": (0xC0, "RGB", "444"),
        "cmyk-adobe": (0xC0, "CMYK", "444"),
        "cmyk-no-adobe-marker": (0xC0, "CMYK", "444"),
        "ycck-adobe": (0xC0, "YCCK", "444"),
        "exif-rotated": (0xC0, "YCbCr", "420"),
    }
    assert b"\xff\xdd" in jpeg("restart-intervals")  # DRI
    assert b"\xff\xee\x00\x0eAdobe" in jpeg("cmyk-adobe")  # APP14, 12 bytes of data
    assert b"Adobe" not in jpeg("cmyk-no-adobe-marker")


def _random_jpegs() -> list[tuple[str, bytes]]:
    """Noisy gradients of awkward sizes in every subsampling, baseline and progressive."""
    rng = np.random.default_rng(11)
    files = []
    for height, width in [(1, 1), (1, 17), (17, 1), (8, 8), (16, 16), (33, 65), (65, 33), (75, 100)]:
        y, x = np.mgrid[0:height, 0:width]
        smooth = np.stack([x * 7 % 256, y * 5 % 256, (x + y) * 3 % 256], -1)
        pixels = np.clip(smooth + rng.integers(-40, 41, smooth.shape), 0, 255).astype(np.uint8)
        for subsampling in ("444", "422", "420", "440", "411"):
            for quality in (50, 95):
                files.append((f"{width}x{height} {subsampling} q{quality}", simplejpeg.encode_jpeg(
                    pixels, quality=quality, colorsubsampling=subsampling)))
        for pil_subsampling in (0, 2):
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(
                buffer, "JPEG", quality=85, subsampling=pil_subsampling, progressive=True
            )
            files.append((f"{width}x{height} progressive {pil_subsampling}", buffer.getvalue()))
    return files


def test_jpegs_of_every_size_and_subsampling_decode_as_tensorflow():
    tf = pytest.importorskip("tensorflow")
    files = _random_jpegs()
    different = [name for name, data in files if digest(decode_photo(data)) != digest(tf_decode(data, tf))]
    assert different == []
    assert len(files) == 96


def test_decode_photos_on_threads_equals_one_by_one():
    files = [jpeg(name) for name in FIXTURES] * 3
    assert [digest(p) for p in decode_photos(files, workers=2)] == [digest(decode_photo(f)) for f in files]


# --- damaged JPEGs: refused as TF refuses them, check_photo agreeing -----------------------


def _without_end(data: bytes) -> bytes:
    return data[:-2]


def _cut(fraction: float):
    return lambda data: data[: int(len(data) * fraction)]


def _zero_padded(data: bytes) -> bytes:
    return data[: len(data) // 2] + bytes(len(data) - len(data) // 2)


def _twelve_bit(data: bytes) -> bytes:
    """The frame header says 12-bit samples (SOF1): libjpeg-turbo's 8-bit API refuses it."""
    start = data.index(b"\xff\xc0")
    patched = bytearray(data)
    patched[start + 1] = 0xC1
    patched[start + 4] = 12
    return bytes(patched)


DAMAGE = {
    "no-end-of-image-marker": _without_end,
    "cut-at-30%": _cut(0.3),
    "cut-at-70%": _cut(0.7),
    "cut-at-95%": _cut(0.95),
    "zero-padded": _zero_padded,
}


@pytest.mark.parametrize("name", ["baseline-444", "progressive-420", "arithmetic", "cmyk-adobe"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_truncated_jpeg_is_refused_by_decode_and_check(name, damage):
    data = DAMAGE[damage](jpeg(name))
    with pytest.raises(UnreadablePhotoError):
        decode_photo(data)
    with pytest.raises(UnreadablePhotoError):
        check_photo(data)


@pytest.mark.parametrize("name", ["baseline-444", "progressive-420", "arithmetic", "cmyk-adobe"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_tensorflow_refuses_the_truncated_jpegs_too(name, damage):
    tf = pytest.importorskip("tensorflow")
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf_decode(DAMAGE[damage](jpeg(name)), tf)


def test_a_12_bit_jpeg_is_refused_as_tensorflow_refuses_it():
    data = _twelve_bit(jpeg("baseline-420"))
    with pytest.raises(UnreadablePhotoError):
        decode_photo(data)
    with pytest.raises(UnreadablePhotoError):
        check_photo(data)
    try:
        import tensorflow as tf  # noqa: PLC0415 - optional here
    except ImportError:
        return
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid JPEG data"):
        tf_decode(data, tf)


@pytest.mark.parametrize("name", ["baseline-420", "progressive-444", "grayscale", "ycck-adobe"])
def test_extraneous_bytes_before_the_end_are_decoded_through_as_tensorflow_does(name):
    """libjpeg-turbo warns ("Corrupt JPEG data: 64 extraneous bytes before marker 0xd9");
    TF decodes through the warning, and so does ``decode_photo``: the same pixels."""
    original = jpeg(name)
    data = original[:-2] + b"garbage" * 10 + original[-2:]
    colorspace = "CMYK" if name.startswith("ycck") else "RGB"
    with pytest.raises(ValueError, match="extraneous bytes before marker 0xd9"):
        simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=True)
    assert digest(decode_photo(data)) == FIXTURES[name][0]
    assert check_photo(data) == (WIDTH, HEIGHT)
    try:
        import tensorflow as tf  # noqa: PLC0415 - optional here
    except ImportError:
        return
    assert digest(tf_decode(data, tf)) == FIXTURES[name][0]


def test_a_warning_in_the_header_falls_back_to_pil():
    """An unknown JFIF version: libjpeg-turbo warns while reading the header, where
    simplejpeg always stops. PIL decodes it, with its accurate IDCT: close to TF's pixels
    (here within 8 levels; up to 25 on tf_flowers' photos), not equal."""
    original = jpeg("baseline-444")
    start = original.index(b"JFIF\x00")
    data = original[: start + 5] + b"\x40" + original[start + 6 :]  # version 64.01
    with pytest.raises(ValueError, match="unknown JFIF revision"):
        simplejpeg.decode_jpeg(data, strict=False)
    pixels = decode_photo(data)
    with Image.open(io.BytesIO(data)) as image:
        np.testing.assert_array_equal(pixels, np.asarray(image.convert("RGB")))
    as_tensorflow = decode_photo(original)  # the same pixels, decoded as TF does
    distance = np.abs(pixels.astype(int) - as_tensorflow).max()
    assert 0 < distance <= 8
    assert check_photo(data) == (WIDTH, HEIGHT)


def _damaged(data: bytes, rng: np.random.Generator) -> list[bytes]:
    scan = data.index(b"\xff\xda")
    variants = []
    for _ in range(25):
        in_scan = bytearray(data)
        for position in rng.integers(scan + 12, len(data) - 2, 3):
            in_scan[position] = rng.integers(0, 256)
        variants.append(bytes(in_scan))
        in_header = bytearray(data)
        in_header[rng.integers(2, scan + 12)] = rng.integers(0, 256)
        variants.append(bytes(in_header))
    return variants


def test_check_photo_refuses_exactly_what_decode_photo_refuses():
    """Random damage to the entropy-coded data and to the headers of every kind of JPEG:
    the cheap check (1/8 scale) and the full decode always agree."""
    rng = np.random.default_rng(5)
    outcomes = {True: 0, False: 0}
    for name in FIXTURES:
        for data in _damaged(jpeg(name), rng):
            try:
                decode_photo(data)
                decoded = True
            except UnreadablePhotoError:
                decoded = False
            try:
                check_photo(data)
                checked = True
            except UnreadablePhotoError:
                checked = False
            assert checked == decoded, name
            outcomes[decoded] += 1
    assert min(outcomes.values()) > 50  # both outcomes were exercised


# --- photos decoded reduced, other formats ----------------------------------------------


def _halves(width: int, height: int) -> bytes:
    """A grey JPEG: left half 200, right half 90."""
    image = Image.new("L", (width, height), 90)
    image.paste(200, (0, 0, width // 2, height))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((4000, 30), (15, 2000)),  # 1/2
        ((8000, 40), (10, 2000)),  # 1/4
        ((4100, 48), (12, 1025)),  # 1/4: at 1/2 it would be 2050 px long
        ((16400, 24), (2, 1025)),  # 1/8 (2050x3), then halved by Image.reduce (ceil)
    ],
)
def test_a_jpeg_longer_than_the_limit_is_decoded_reduced(size, decoded):
    """libjpeg's DCT scaling (1/2, 1/4, 1/8), as before with PIL's draft mode: within 2 levels
    of the flat halves (the documented tolerance)."""
    data = _halves(*size)
    pixels = decode_photo(data)
    assert pixels.shape == (*decoded, 3)
    assert max(pixels.shape) <= MAX_DECODE_SIDE
    assert check_photo(data) == size
    left, right = pixels[:, : decoded[1] // 2 - 8], pixels[:, decoded[1] // 2 + 8 :]
    assert np.abs(left.astype(int) - 200).max() <= 2
    assert np.abs(right.astype(int) - 90).max() <= 2


def test_photo_signature():
    assert SIGNATURE_BYTES == 8
    assert photo_signature(jpeg("baseline-444")[:SIGNATURE_BYTES]) == "JPEG"
    png = io.BytesIO()
    Image.new("RGB", (2, 2)).save(png, "PNG")
    assert photo_signature(png.getvalue()[:SIGNATURE_BYTES]) == "PNG"
    gif = io.BytesIO()
    Image.new("RGB", (2, 2)).save(gif, "GIF")
    for other in (gif.getvalue(), b"", b"\xff\xd8", bytes(8), b"<html>", b"\x89PNG"):
        assert photo_signature(other[:SIGNATURE_BYTES]) is None


def test_default_workers_divides_the_cores_among_the_processes_sharing_them(monkeypatch):
    monkeypatch.setattr(photos, "usable_cores", lambda: 8)
    assert default_workers() == 8
    assert default_workers(3) == 2
    assert default_workers(16) == 1  # never none
    try:
        share_cores(4)  # a pool of four worker processes: each takes its part by default
        assert default_workers() == 2
        assert default_workers(1) == 8
    finally:
        share_cores(1)
    assert default_workers() == 8
