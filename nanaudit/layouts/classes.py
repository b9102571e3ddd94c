"""Class-name catalogues and palettes of the public datasets the presets know."""

from __future__ import annotations


def _names(text: str) -> tuple[str, ...]:
    return tuple(" ".join(name.split()) for name in text.split(","))


VOC_CLASSES = _names(
    """
    background, aeroplane, bicycle, bird, boat, bottle, bus, car, cat, chair, cow,
    diningtable, dog, horse, motorbike, person, pottedplant, sheep, sofa, train, tvmonitor
    """
)
CITYSCAPES_TRAIN_IDS = _names(
    """
    road, sidewalk, building, wall, fence, pole, traffic light, traffic sign, vegetation,
    terrain, sky, person, rider, car, truck, bus, train, motorcycle, bicycle
    """
)
CITYSCAPES_LABEL_IDS = _names(
    """
    unlabeled, ego vehicle, rectification border, out of roi, static, dynamic, ground, road,
    sidewalk, parking, rail track, building, wall, fence, guard rail, bridge, tunnel, pole,
    polegroup, traffic light, traffic sign, vegetation, terrain, sky, person, rider, car,
    truck, bus, caravan, trailer, train, motorcycle, bicycle
    """
)
ADE20K_CLASSES = _names(
    """
    wall, building, sky, floor, tree, ceiling, road, bed, windowpane, grass, cabinet,
    sidewalk, person, earth, door, table, mountain, plant, curtain, chair, car, water,
    painting, sofa, shelf, house, sea, mirror, rug, field, armchair, seat, fence, desk,
    rock, wardrobe, lamp, bathtub, railing, cushion, base, box, column, signboard, chest of
    drawers, counter, sand, sink, skyscraper, fireplace, refrigerator, grandstand, path,
    stairs, runway, case, pool table, pillow, screen door, stairway, river, bridge,
    bookcase, blind, coffee table, toilet, flower, book, hill, bench, countertop, stove,
    palm, kitchen island, computer, swivel chair, boat, bar, arcade machine, hovel, bus,
    towel, light, truck, tower, chandelier, awning, streetlight, booth, television receiver,
    airplane, dirt track, apparel, pole, land, bannister, escalator, ottoman, bottle,
    buffet, poster, stage, van, ship, fountain, conveyer belt, canopy, washer, plaything,
    swimming pool, stool, barrel, basket, waterfall, tent, bag, minibike, cradle, oven,
    ball, food, step, tank, trade name, microwave, pot, animal, bicycle, lake, dishwasher,
    screen, blanket, sculpture, hood, sconce, vase, traffic light, tray, ashcan, fan, pier,
    crt screen, plate, monitor, bulletin board, shower, radiator, glass, clock, flag
    """
)
_COCO_THINGS = {
    1: "person",
    2: "bicycle",
    3: "car",
    4: "motorcycle",
    5: "airplane",
    6: "bus",
    7: "train",
    8: "truck",
    9: "boat",
    10: "traffic light",
    11: "fire hydrant",
    13: "stop sign",
    14: "parking meter",
    15: "bench",
    16: "bird",
    17: "cat",
    18: "dog",
    19: "horse",
    20: "sheep",
    21: "cow",
    22: "elephant",
    23: "bear",
    24: "zebra",
    25: "giraffe",
    27: "backpack",
    28: "umbrella",
    31: "handbag",
    32: "tie",
    33: "suitcase",
    34: "frisbee",
    35: "skis",
    36: "snowboard",
    37: "sports ball",
    38: "kite",
    39: "baseball bat",
    40: "baseball glove",
    41: "skateboard",
    42: "surfboard",
    43: "tennis racket",
    44: "bottle",
    46: "wine glass",
    47: "cup",
    48: "fork",
    49: "knife",
    50: "spoon",
    51: "bowl",
    52: "banana",
    53: "apple",
    54: "sandwich",
    55: "orange",
    56: "broccoli",
    57: "carrot",
    58: "hot dog",
    59: "pizza",
    60: "donut",
    61: "cake",
    62: "chair",
    63: "couch",
    64: "potted plant",
    65: "bed",
    67: "dining table",
    70: "toilet",
    72: "tv",
    73: "laptop",
    74: "mouse",
    75: "remote",
    76: "keyboard",
    77: "cell phone",
    78: "microwave",
    79: "oven",
    80: "toaster",
    81: "sink",
    82: "refrigerator",
    84: "book",
    85: "clock",
    86: "vase",
    87: "scissors",
    88: "teddy bear",
    89: "hair drier",
    90: "toothbrush",
}
_COCO_STUFF = _names(
    """
    banner, blanket, branch, bridge, building-other, bush, cabinet, cage, cardboard, carpet,
    ceiling-other, ceiling-tile, cloth, clothes, clouds, counter, cupboard, curtain, desk-
    stuff, dirt, door-stuff, fence, floor-marble, floor-other, floor-stone, floor-tile,
    floor-wood, flower, fog, food-other, fruit, furniture-other, grass, gravel, ground-
    other, hill, house, leaves, light, mat, metal, mirror-stuff, moss, mountain, mud,
    napkin, net, paper, pavement, pillow, plant-other, plastic, platform, playingfield,
    railing, railroad, river, road, rock, roof, rug, salad, sand, sea, shelf, sky-other,
    skyscraper, snow, solid-other, stairs, stone, straw, structural-other, table, tent,
    textile-other, towel, tree, vegetable, wall-brick, wall-concrete, wall-other, wall-
    panel, wall-stone, wall-tile, wall-wood, water-other, waterdrops, window-blind, window-
    other, wood
    """
)
# stuffthingmaps hold COCO id - 1: things 0–90 (11 ids unused), stuff 91–181, 255 unlabeled
COCO_STUFF_UNUSED = tuple(i - 1 for i in range(1, 92) if i not in _COCO_THINGS)
COCO_STUFF_CLASSES = tuple(
    [_COCO_THINGS.get(i, f"unused-{i - 1}") for i in range(1, 92)] + list(_COCO_STUFF)
)
CAMVID_CLASSES = _names(
    """
    sky, building, pole, road, pavement, tree, signsymbol, fence, car, pedestrian, bicyclist
    """
)
PET_TRIMAP = ("foreground", "background", "boundary")  # trimap values 1, 2, 3


def voc_palette() -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map (index → RGB)."""
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal.append((r, g, b))
    return pal


def _luma(rgb: tuple[int, int, int]) -> int:
    r, g, b = rgb
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16  # Pillow's convert("L")


VOC_LUMA = frozenset(_luma(c) for c in voc_palette()[1:21]) | {_luma(voc_palette()[255])}
