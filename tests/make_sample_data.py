"""Generate deterministic synthetic sample data for the segmentation-metrics tool.

For ten KITTI-sized frames (1242x375) it writes a street-scene picture, its
ground-truth mask (Cityscapes train ids 0..18, 255 = void) and a simulated
model output that makes the mistakes real models make:

    images/<id>.png        RGB picture
    labels/<id>.png        8-bit mask, train ids 0..18 and 255 (void)
    labels/class_names.txt the 19 class names (line k = id k), "255: void" and "ignore: 255"
    inferences/<id>.png    8-bit mask, train ids 0..18 only

Usage:
    python tests/make_sample_data.py             # write into the repository root
    python tests/make_sample_data.py --out DIR   # write into DIR

Everything is seeded from the frame id, so every run gives identical files.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 1242, 375
SAMPLE_IDS = [f"{i:06d}_10" for i in range(10)]
POOR_FRAMES = {"000004_10", "000008_10"}  # the model does clearly worse on these
TRAM_FRAMES = {"000003_10", "000007_10"}  # streets with a tram line (class "train")

CLASS_NAMES = [
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck", "bus", "train", "motorcycle", "bicycle",
]
(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN,
 VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE,
 BICYCLE) = range(19)
VOID = 255

# A pinhole camera 1.65 m above a flat ground plane, as on the KITTI car.
FOCAL = 720.0
CAM_HEIGHT = 1.65
LANE = 3.5

GLASS = (38, 44, 54)
TYRE = (22, 22, 24)
ROAD_GREY = (104, 104, 107)
MARKING = (222, 222, 212)
CAR_COLOURS = [(200, 201, 205), (232, 232, 230), (28, 29, 33), (150, 28, 28),
               (32, 62, 128), (88, 90, 96), (170, 152, 112), (60, 90, 70)]
BUILDING_COLOURS = [(192, 172, 142), (158, 92, 70), (172, 170, 164), (214, 204, 180),
                    (140, 122, 104), (196, 186, 168), (120, 110, 105)]
CLOTHES = [(30, 32, 40), (150, 30, 35), (40, 70, 130), (200, 200, 195),
           (90, 90, 60), (60, 60, 65), (180, 140, 60), (110, 60, 110)]
SKIN = [(224, 184, 152), (190, 140, 105), (130, 92, 68)]


# ----------------------------------------------------------------- geometry

class Camera:
    """Projects world points (x right, y up from the ground, z ahead, in metres)."""

    def __init__(self, horizon: float, centre: float):
        self.horizon = horizon  # image row of the horizon
        self.centre = centre    # image column of the vanishing point

    def point(self, x: float, y: float, z: float) -> tuple[float, float]:
        return (self.centre + FOCAL * x / z, self.horizon + FOCAL * (CAM_HEIGHT - y) / z)

    def scale(self, z: float) -> float:
        """Pixels per metre at depth z."""
        return FOCAL / z


class Canvas:
    """Draws each shape into the label mask, the instance map and the paint at once.

    Painting far-to-near gives correct occlusion in all three images.
    """

    def __init__(self, sky: np.ndarray):
        self.label = Image.new("L", (WIDTH, HEIGHT), SKY)
        self.instances = Image.new("I", (WIDTH, HEIGHT), 0)
        self.paint = Image.fromarray(sky)
        self._label = ImageDraw.Draw(self.label)
        self._instances = ImageDraw.Draw(self.instances)
        self._paint = ImageDraw.Draw(self.paint)
        self.classes = [SKY]  # class of each instance id; id 0 is the sky
        self._cls, self._inst = SKY, 0

    def begin(self, cls: int) -> None:
        """Start a new object: following fills belong to it."""
        self._cls, self._inst = cls, len(self.classes)
        self.classes.append(cls)

    def fill(self, kind: str, xy, colour, width: int = 0) -> None:
        """A shape of the current object ('polygon', 'ellipse' or 'line')."""
        self._draw(self._label, kind, xy, self._cls, width)
        self._draw(self._instances, kind, xy, self._inst, width)
        self.detail(kind, xy, colour, width)

    def detail(self, kind: str, xy, colour, width: int = 0) -> None:
        """Paint only: windows, wheels, markings do not change the label."""
        self._draw(self._paint, kind, xy, tuple(int(c) for c in colour), width)

    @staticmethod
    def _draw(draw: ImageDraw.ImageDraw, kind: str, xy, value, width: int) -> None:
        if kind == "line":
            draw.line(xy, fill=value, width=max(1, width))
        else:
            getattr(draw, kind)(xy, fill=value)


def shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, round(c * factor))) for c in colour)


def vary(rng: np.random.Generator, colour, amount: int = 12) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def smooth_noise(rng: np.random.Generator, cell: int) -> np.ndarray:
    """Gaussian noise smoothed to blobs about `cell` pixels across (HEIGHT x WIDTH).

    Bilinear interpolation in integers, so that every numpy and Pillow version
    gives the same pixels (a float resize differs in the last bit between versions).
    """
    grid = np.rint(1000 * rng.standard_normal((HEIGHT // cell + 2, WIDTH // cell + 2))).astype(np.int64)
    fy, fx = np.arange(HEIGHT) % cell, np.arange(WIDTH) % cell
    iy, ix = np.arange(HEIGHT) // cell, np.arange(WIDTH) // cell
    rows = (cell - fy)[:, None] * grid[iy] + fy[:, None] * grid[iy + 1]
    both = (cell - fx) * rows[:, ix] + fx * rows[:, ix + 1]
    return both / (1000 * cell * cell)


def ground_quad(cam: Camera, x0: float, x1: float, z0: float, z1: float):
    return [cam.point(x0, 0, z0), cam.point(x1, 0, z0), cam.point(x1, 0, z1), cam.point(x0, 0, z1)]


def draw_box(canvas: Canvas, cam: Camera, x0, x1, y0, y1, z0, z1, colour) -> None:
    """A box seen from the camera: the side facing the road, the top if below eye level, the near face."""
    p = cam.point
    side = x0 if x0 > 0 else x1 if x1 < 0 else None
    if side is not None:
        canvas.fill("polygon", [p(side, y0, z0), p(side, y1, z0), p(side, y1, z1), p(side, y0, z1)],
                    shade(colour, 0.78))
    if y1 < CAM_HEIGHT:
        canvas.fill("polygon", [p(x0, y1, z0), p(x1, y1, z0), p(x1, y1, z1), p(x0, y1, z1)],
                    shade(colour, 1.08))
    canvas.fill("polygon", [p(x0, y0, z0), p(x1, y0, z0), p(x1, y1, z0), p(x0, y1, z0)], colour)


def side_quad(cam: Camera, x: float, y0, y1, z0, z1):
    """A rectangle on the vertical plane at lateral position x (a facade, a car side)."""
    p = cam.point
    return [p(x, y0, z0), p(x, y1, z0), p(x, y1, z1), p(x, y0, z1)]


def front_quad(cam: Camera, x0, x1, y0, y1, z):
    """A rectangle facing the camera at depth z."""
    p = cam.point
    return [p(x0, y0, z), p(x1, y0, z), p(x1, y1, z), p(x0, y1, z)]


def front_ellipse(cam: Camera, x, y, z, rx, ry):
    (cx, cy), s = cam.point(x, y, z), cam.scale(z)
    return [cx - rx * s, cy - ry * s, cx + rx * s, cy + ry * s]


def side_wheel(cam: Camera, x: float, z: float, radius: float):
    """A wheel on a vehicle side at lateral position x, as a polygon."""
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    return [cam.point(x, radius + radius * np.sin(a), z + radius * np.cos(a)) for a in angles]


# ------------------------------------------------------------------- layout

class Street:
    """Where road, sidewalks and facades are, in metres from the camera axis."""

    def __init__(self, rng: np.random.Generator, tram: bool):
        self.tram = tram  # a tram line runs in the oncoming lane
        self.park_left = bool(rng.random() < 0.6)
        self.park_right = bool(rng.random() < 0.7)
        self.road_left = -(LANE * 1.5 + (2.2 if self.park_left else 0.4))
        self.road_right = LANE / 2 + (2.2 if self.park_right else 0.4)
        self.walk_left = self.road_left - rng.uniform(2.0, 3.5)
        self.walk_right = self.road_right + rng.uniform(2.0, 3.5)
        self.grass_left = float(rng.choice([0.0, rng.uniform(1.0, 3.0)]))
        self.grass_right = float(rng.choice([0.0, rng.uniform(1.0, 3.0)]))
        self.face_left = self.walk_left - self.grass_left
        self.face_right = self.walk_right + self.grass_right
        # what stands behind each sidewalk: houses, a row of trees, or both
        self.left_kind = pick(rng, ["buildings", "buildings", "trees", "mixed"])
        self.right_kind = pick(rng, ["buildings", "trees", "mixed", "mixed"])
        self.crossing = float(rng.uniform(14, 30)) if rng.random() < 0.5 else None


def sky_picture(rng: np.random.Generator, cam: Camera) -> np.ndarray:
    """Blue-to-haze gradient with soft clouds (HEIGHT x WIDTH x 3, uint8)."""
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None, None]
    t = np.clip(rows / cam.horizon, 0, 1) ** 0.7
    top = np.array(vary(rng, (78, 128, 196), 15), np.float32)
    bottom = np.array((206, 214, 224), np.float32)
    sky = top + (bottom - top) * t
    clouds = smooth_noise(rng, 70) + 0.5 * smooth_noise(rng, 25)
    cover = np.clip((clouds - rng.uniform(0.0, 0.6)) * 1.4, 0, 0.85)[:, :, None]
    sky = sky * (1 - cover) + np.float32(236) * cover
    return np.broadcast_to(np.rint(sky), (HEIGHT, WIDTH, 3)).astype(np.uint8)


# -------------------------------------------------------------- background

def draw_ground(canvas: Canvas, cam: Camera, rng: np.random.Generator, st: Street) -> None:
    """Grass everywhere, then the road, sidewalks with curbs and lane markings."""
    near, far = 1.0, 2000.0
    canvas.begin(TERRAIN)
    canvas.fill("polygon", ground_quad(cam, -80, 80, near, far), vary(rng, (104, 124, 62)))
    canvas.begin(SIDEWALK)
    walk = vary(rng, (160, 153, 146), 10)
    for x0, x1 in ((st.walk_left, st.road_left), (st.road_right, st.walk_right)):
        canvas.fill("polygon", ground_quad(cam, x0, x1, near, far), walk)
    curb = shade(walk, 1.15)
    canvas.detail("polygon", ground_quad(cam, st.road_left - 0.2, st.road_left, near, far), curb)
    canvas.detail("polygon", ground_quad(cam, st.road_right, st.road_right + 0.2, near, far), curb)
    canvas.begin(ROAD)
    canvas.fill("polygon", ground_quad(cam, st.road_left, st.road_right, near, far), vary(rng, ROAD_GREY, 6))
    draw_road_patches(canvas, cam, rng, st)
    draw_lane_markings(canvas, cam, rng, st)


def draw_road_patches(canvas: Canvas, cam: Camera, rng: np.random.Generator, st: Street) -> None:
    """Darker repaired asphalt, so the road is not one flat grey."""
    for _ in range(int(rng.integers(2, 6))):
        x = rng.uniform(st.road_left, st.road_right - 1)
        z = rng.uniform(7, 60)
        canvas.detail("polygon", ground_quad(cam, x, x + rng.uniform(0.5, 2.5), z, z + rng.uniform(1, 6)),
                      shade(ROAD_GREY, rng.uniform(0.8, 0.92)))


def draw_lane_markings(canvas: Canvas, cam: Camera, rng: np.random.Generator, st: Street) -> None:
    centre = -LANE / 2
    phase = rng.uniform(0, 12)
    for k in range(30):  # dashed centre line: 4 m dash every 12 m
        z = 3 + phase + 12 * k
        canvas.detail("polygon", ground_quad(cam, centre - 0.07, centre + 0.07, z, z + 4), MARKING)
    for x, parked in ((LANE / 2, st.park_right), (-LANE * 1.5, st.park_left)):
        if parked:  # solid line between the lane and the parking strip
            canvas.detail("polygon", ground_quad(cam, x - 0.06, x + 0.06, 2, 400), shade(MARKING, 0.9))
    if st.crossing is not None:  # zebra crossing
        for x in np.arange(st.road_left + 0.5, st.road_right - 0.5, 1.0):
            canvas.detail("polygon", ground_quad(cam, x, x + 0.5, st.crossing, st.crossing + 4), MARKING)
    if st.tram:
        for x in (-LANE - 0.72, -LANE + 0.72):
            canvas.detail("line", [cam.point(x, 0, 3), cam.point(x, 0, 600)], (70, 70, 72), 2)


def draw_skyline(canvas: Canvas, cam: Camera, rng: np.random.Generator) -> None:
    """Hazy far-away buildings and trees around the vanishing point."""
    x = cam.centre - rng.uniform(120, 220)
    end = cam.centre + rng.uniform(120, 220)
    while x < end:
        w = rng.uniform(8, 40)
        h = rng.uniform(4, 26)
        if rng.random() < 0.35:
            canvas.begin(VEGETATION)
            canvas.fill("ellipse", [x, cam.horizon - h, x + w, cam.horizon + h / 2], vary(rng, (98, 118, 104), 8))
        else:
            canvas.begin(BUILDING)
            canvas.fill("polygon", [(x, cam.horizon + 2), (x, cam.horizon - h), (x + w, cam.horizon - h),
                                    (x + w, cam.horizon + 2)], vary(rng, (160, 164, 172), 10))
        x += w * rng.uniform(0.6, 1.0)


def draw_buildings(canvas: Canvas, cam: Camera, rng: np.random.Generator, face: float) -> None:
    """A row of houses of varying height along the facade line at lateral position face."""
    side = np.sign(face)
    lit = 1.0 if side < 0 else 0.85  # the sun lights the left-hand facades
    blocks = []
    z = 2.0
    while z < 260:
        length = rng.uniform(8, 24)
        blocks.append((z, z + length, rng.uniform(6, 17), face + side * rng.uniform(0, 2.5)))
        z += length
    for z0, z1, height, x in reversed(blocks):  # far-to-near
        colour = shade(vary(rng, pick(rng, BUILDING_COLOURS)), lit)
        x0, x1 = (x, x + 20) if side > 0 else (x - 20, x)
        canvas.begin(BUILDING)
        draw_box(canvas, cam, x0, x1, 0, height, z0, z1, colour)
        draw_windows(canvas, cam, rng, x, z0, z1, height)


def draw_windows(canvas: Canvas, cam: Camera, rng: np.random.Generator, x, z0, z1, height) -> None:
    """A grid of windows on a facade, with a shop-window band at street level."""
    spacing = rng.uniform(2.0, 2.8)
    glass = vary(rng, (62, 72, 88), 10)
    if rng.random() < 0.5:
        canvas.detail("polygon", side_quad(cam, x, 0.5, 2.6, z0 + 0.8, z1 - 0.8), shade(glass, 0.8))
    floor = 3.6
    while floor + 1.6 < height - 0.5:
        for z in np.arange(z0 + 1.0, z1 - 1.6, spacing):
            if cam.scale(z) * 1.2 < 1.5:  # too far away to see
                break
            reflection = shade(glass, rng.uniform(0.9, 1.6))
            canvas.detail("polygon", side_quad(cam, x, floor, floor + 1.4, z, z + 1.0), reflection)
        floor += 3.0


def draw_tree_row(canvas: Canvas, cam: Camera, rng: np.random.Generator, face: float) -> None:
    """Dense trees and bushes behind the sidewalk: a vegetation wall with a bumpy top."""
    side = np.sign(face)
    z = 2.0
    segments = []
    while z < 300:
        length = rng.uniform(3, 9)
        segments.append((z, z + length, rng.uniform(4, 10)))
        z += length
    for z0, z1, height in reversed(segments):
        green = vary(rng, (58, 92, 44), 14)
        canvas.begin(VEGETATION)
        canvas.fill("polygon", side_quad(cam, face + side * 2, 0, height * 0.8, z0, z1), shade(green, 0.85))
        zc = (z0 + z1) / 2
        canvas.fill("ellipse", front_ellipse(cam, face + side * 2, height * 0.8, zc, (z1 - z0) * 0.5, height * 0.25),
                    green)


def draw_wall(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z0: float, z1: float) -> None:
    canvas.begin(WALL)
    height = rng.uniform(1.0, 2.4)
    colour = vary(rng, (152, 146, 136))
    canvas.fill("polygon", side_quad(cam, x, 0, height, z0, z1), colour)
    canvas.detail("polygon", side_quad(cam, x, height - 0.15, height, z0, z1), shade(colour, 1.15))


def draw_fence(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z0: float, z1: float) -> None:
    canvas.begin(FENCE)
    height = rng.uniform(1.0, 1.8)
    colour = vary(rng, pick(rng, [(112, 94, 70), (118, 124, 130)]))
    canvas.fill("polygon", side_quad(cam, x, 0, height, z0, z1), colour)
    for z in np.arange(z0, z1, 0.25):  # gaps between the slats
        canvas.detail("polygon", side_quad(cam, x, 0.1, height - 0.1, z, z + 0.08), shade(colour, 0.6))


def draw_walls_and_fences(canvas: Canvas, cam: Camera, rng: np.random.Generator, st: Street) -> None:
    """A fence behind a grass strip or a low wall in front of the houses, on some streets."""
    for face, grass, kind in ((st.face_left, st.grass_left, st.left_kind),
                              (st.face_right, st.grass_right, st.right_kind)):
        x, z0, z1 = face - np.sign(face) * 0.3, rng.uniform(8, 20), rng.uniform(30, 80)
        if (grass or kind == "trees") and rng.random() < 0.6:
            draw_fence(canvas, cam, rng, x, z0, z1)
        elif kind != "trees" and rng.random() < 0.35:
            draw_wall(canvas, cam, rng, x, z0, z1)


# ------------------------------------------------------------------ objects

def draw_car(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float,
             toward_camera: bool = False) -> None:
    """A car ahead: body, cabin with windows, wheels, lights and a shadow below."""
    colour = vary(rng, pick(rng, CAR_COLOURS), 8)
    w, length = rng.uniform(1.7, 1.9), rng.uniform(3.9, 4.7)
    x0, x1, z1 = x - w / 2, x + w / 2, z + length
    canvas.detail("polygon", ground_quad(cam, x0 - 0.1, x1 + 0.1, z - 0.2, z1), (48, 48, 50))
    canvas.begin(CAR)
    for wx in (x0 + 0.05, x1 - 0.3):
        draw_box(canvas, cam, wx, wx + 0.25, 0, 0.45, z + 0.7, z + 1.2, TYRE)
    side = x0 if x0 > 0 else x1 if x1 < 0 else None
    if side is not None:
        for wz in (z + 0.8, z1 - 0.8):
            canvas.fill("polygon", side_wheel(cam, side, wz, 0.33), TYRE)
    draw_box(canvas, cam, x0, x1, 0.28, 0.95, z, z1, colour)
    cx0, cx1, cz0, cz1 = x0 + 0.12, x1 - 0.12, z + (0.9 if toward_camera else 0.6), z1 - 1.0
    draw_box(canvas, cam, cx0, cx1, 0.95, 1.45, cz0, cz1, colour)
    canvas.detail("polygon", front_quad(cam, cx0 + 0.08, cx1 - 0.08, 1.0, 1.4, cz0), GLASS)
    if side is not None:
        middle = (cz0 + cz1) / 2  # front and rear side windows
        canvas.detail("polygon", side_quad(cam, side, 1.0, 1.4, cz0 + 0.15, middle - 0.08), shade(GLASS, 1.2))
        canvas.detail("polygon", side_quad(cam, side, 1.0, 1.4, middle + 0.08, cz1 - 0.1), shade(GLASS, 1.2))
    light = (235, 232, 210) if toward_camera else (190, 25, 25)
    for lx in (x0 + 0.1, x1 - 0.4):
        canvas.detail("polygon", front_quad(cam, lx, lx + 0.3, 0.72, 0.86, z), light)
    canvas.detail("polygon", front_quad(cam, x - 0.26, x + 0.26, 0.4, 0.52, z), (215, 215, 205))


def draw_truck(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float,
               toward_camera: bool = False) -> None:
    """A lorry: a tall cargo box and a cab (in front of the box when it comes toward us)."""
    w, length, height = 2.5, rng.uniform(7, 10), rng.uniform(3.2, 3.8)
    x0, x1 = x - w / 2, x + w / 2
    cargo = vary(rng, pick(rng, [(225, 225, 220), (180, 40, 35), (40, 80, 140), (200, 170, 60)]))
    cab = vary(rng, pick(rng, [(210, 210, 210), (40, 60, 120), (170, 30, 30)]))
    canvas.detail("polygon", ground_quad(cam, x0 - 0.1, x1 + 0.1, z - 0.2, z + length), (48, 48, 50))
    canvas.begin(TRUCK)
    for wx in (x0 + 0.05, x1 - 0.4):
        draw_box(canvas, cam, wx, wx + 0.35, 0, 0.6, z + 0.8, z + 1.6, TYRE)
    if toward_camera:
        draw_box(canvas, cam, x0, x1, 0.6, height, z + 2.2, z + length, cargo)
        draw_box(canvas, cam, x0 + 0.05, x1 - 0.05, 0.5, 2.9, z, z + 2.2, cab)
        canvas.detail("polygon", front_quad(cam, x0 + 0.2, x1 - 0.2, 1.8, 2.7, z), GLASS)
        for lx in (x0 + 0.15, x1 - 0.45):
            canvas.detail("polygon", front_quad(cam, lx, lx + 0.3, 0.8, 0.95, z), (235, 232, 210))
    else:
        draw_box(canvas, cam, x0, x1, 0.6, height, z, z + length, cargo)
        canvas.detail("line", [cam.point(x, 0.7, z), cam.point(x, height - 0.1, z)], shade(cargo, 0.7), 2)
        for lx in (x0 + 0.1, x1 - 0.35):
            canvas.detail("polygon", front_quad(cam, lx, lx + 0.25, 0.7, 0.9, z), (190, 25, 25))


def draw_bus(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float,
             cls: int = BUS, toward_camera: bool = False) -> None:
    """A bus (or, with cls=TRAIN, a long tram): a box with a band of side windows."""
    w = 2.55 if cls == BUS else 2.4
    length = 12.0 if cls == BUS else 28.0
    height = 3.1 if cls == BUS else 3.4
    colour = vary(rng, pick(rng, [(220, 180, 40), (190, 40, 40), (230, 230, 225), (40, 120, 80)]), 8)
    x0, x1 = x - w / 2, x + w / 2
    canvas.detail("polygon", ground_quad(cam, x0 - 0.1, x1 + 0.1, z - 0.2, z + length), (48, 48, 50))
    canvas.begin(cls)
    for wx in (x0 + 0.05, x1 - 0.4):
        draw_box(canvas, cam, wx, wx + 0.35, 0, 0.6, z + 1.5, z + 2.5, TYRE)
    draw_box(canvas, cam, x0, x1, 0.35, height, z, z + length, colour)
    side = x0 if x0 > 0 else x1 if x1 < 0 else None
    if side is not None:
        canvas.detail("polygon", side_quad(cam, side, 1.3, 2.6, z + 0.5, z + length - 0.5), GLASS)
        for wz in np.arange(z + 2.0, z + length - 0.5, 1.8):  # window pillars
            canvas.detail("polygon", side_quad(cam, side, 1.3, 2.6, wz, wz + 0.15), colour)
    top = 2.8 if toward_camera else 2.6
    canvas.detail("polygon", front_quad(cam, x0 + 0.15, x1 - 0.15, 1.4, top, z), GLASS)
    if cls == TRAIN:  # pantograph
        canvas.detail("line", [cam.point(x - 0.6, height, z + 5), cam.point(x, height + 1.2, z + 6),
                               cam.point(x + 0.6, height, z + 7)], (50, 50, 50), 2)
    light = (235, 232, 210) if toward_camera else (190, 25, 25)
    for lx in (x0 + 0.15, x1 - 0.45):
        canvas.detail("polygon", front_quad(cam, lx, lx + 0.3, 0.7, 0.9, z), light)


def draw_person(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float,
                cls: int = PERSON) -> None:
    """A pedestrian seen from the front or back: legs, torso, arms and head."""
    h = rng.uniform(1.55, 1.9)
    stride = rng.uniform(0.0, 0.15)
    legs, top = vary(rng, pick(rng, CLOTHES[:3] + CLOTHES[5:6])), vary(rng, pick(rng, CLOTHES))
    canvas.begin(cls)
    for dx, dz in ((-0.1, stride), (0.1, -stride)):
        canvas.fill("polygon", front_quad(cam, x + dx - 0.08, x + dx + 0.08, 0, 0.48 * h, z + dz), legs)
    canvas.fill("polygon", front_quad(cam, x - 0.21, x + 0.21, 0.46 * h, 0.82 * h, z), top)
    for dx in (-0.25, 0.25):
        canvas.fill("polygon", front_quad(cam, x + dx - 0.05, x + dx + 0.05, 0.5 * h, 0.8 * h, z), shade(top, 0.85))
    canvas.fill("ellipse", front_ellipse(cam, x, 0.9 * h, z, 0.1, 0.1 * h / 1.7), pick(rng, SKIN))
    canvas.detail("ellipse", front_ellipse(cam, x, 0.95 * h, z, 0.1, 0.05), (40, 30, 25))  # hair


def draw_bicycle(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float,
                 facing: int, colour) -> None:
    """A bicycle seen from the side: two wheels and a frame."""
    s = cam.scale(z)
    width = max(2, int(round(0.05 * s)))
    canvas.begin(BICYCLE)
    hubs = [cam.point(x + dx, 0.34, z) for dx in (-0.52, 0.52)]
    for hx, hy in hubs:
        r = 0.34 * s
        canvas.fill("line", [(hx + r * np.cos(a), hy + r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 25)],
                    TYRE, width)
    seat, bar = cam.point(x - 0.15 * facing, 0.95, z), cam.point(x + 0.4 * facing, 1.0, z)
    crank = cam.point(x, 0.34, z)
    back, front = hubs if facing > 0 else hubs[::-1]
    canvas.fill("line", [back, seat, crank, back], colour, width)
    canvas.fill("line", [seat, bar, front, bar, crank], colour, width)


def draw_cyclist(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float) -> None:
    """A rider on a bicycle crossing the road, seen from the side."""
    facing = 1 if rng.random() < 0.5 else -1
    draw_bicycle(canvas, cam, rng, x, z, facing, vary(rng, pick(rng, CAR_COLOURS)))
    draw_rider(canvas, cam, rng, x, z, facing, lean=0.35)


def draw_rider(canvas: Canvas, cam: Camera, rng: np.random.Generator, x, z, facing: int, lean: float) -> None:
    """A seated person on a two-wheeler, seen from the side."""
    f = facing
    clothes = vary(rng, pick(rng, CLOTHES))
    canvas.begin(RIDER)
    p = cam.point
    canvas.fill("polygon", [p(x - 0.2 * f, 0.95, z), p(x - 0.05 * f, 0.95, z), p(x + 0.05 * f, 0.4, z),
                            p(x - 0.06 * f, 0.4, z)], shade(clothes, 0.6))  # leg
    canvas.fill("polygon", [p(x - 0.3 * f, 0.95, z), p(x - 0.05 * f, 0.95, z),
                            p(x + (lean - 0.05) * f, 1.55, z), p(x + (lean - 0.3) * f, 1.55, z)], clothes)
    canvas.fill("line", [p(x + (lean - 0.1) * f, 1.5, z), p(x + 0.42 * f, 1.02, z)], clothes,
                max(2, int(round(0.09 * cam.scale(z)))))  # arm to the handlebar
    canvas.fill("ellipse", front_ellipse(cam, x + (lean - 0.12) * f, 1.68, z, 0.12, 0.13),
                pick(rng, [(30, 30, 30), (200, 40, 40), (230, 230, 230)]))  # helmet


def draw_motorcycle(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float,
                    ridden: bool) -> None:
    """A motorbike from the side: solid wheels, tank and seat; maybe with its rider."""
    facing = 1 if rng.random() < 0.5 else -1
    colour = vary(rng, pick(rng, [(30, 30, 35), (160, 30, 30), (40, 60, 140), (200, 200, 200)]))
    canvas.begin(MOTORCYCLE)
    for dx in (-0.7, 0.7):
        canvas.fill("ellipse", front_ellipse(cam, x + dx, 0.32, z, 0.32, 0.32), TYRE)
        canvas.detail("ellipse", front_ellipse(cam, x + dx, 0.32, z, 0.14, 0.14), (120, 120, 125))
    p = cam.point
    f = facing
    canvas.fill("polygon", [p(x - 0.7 * f, 0.45, z), p(x - 0.55 * f, 0.85, z), p(x + 0.3 * f, 0.95, z),
                            p(x + 0.62 * f, 1.1, z), p(x + 0.7 * f, 0.4, z), p(x + 0.2 * f, 0.3, z)], colour)
    canvas.detail("polygon", [p(x - 0.5 * f, 0.85, z), p(x - 0.05 * f, 0.87, z), p(x - 0.05 * f, 0.95, z),
                              p(x - 0.5 * f, 0.93, z)], (25, 25, 25))  # seat
    if ridden:
        draw_rider(canvas, cam, rng, x - 0.15 * f, z, facing, lean=0.25)


def draw_street_lamp(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float) -> None:
    """A lamp post with an arm reaching over the road."""
    h = rng.uniform(6, 8)
    reach = -1.6 * np.sign(x)
    colour = vary(rng, (86, 88, 90), 8)
    canvas.begin(POLE)
    canvas.fill("polygon", front_quad(cam, x - 0.09, x + 0.09, 0, h, z), colour)
    canvas.fill("polygon", [cam.point(x, h - 0.1, z), cam.point(x + reach, h, z), cam.point(x + reach, h + 0.1, z),
                            cam.point(x, h + 0.05, z)], colour)
    canvas.fill("ellipse", front_ellipse(cam, x + reach, h, z, 0.35, 0.1), shade(colour, 0.8))


def draw_sign(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float) -> None:
    """A traffic sign on a thin post: round, triangular or rectangular."""
    h = rng.uniform(2.0, 2.6)
    canvas.begin(POLE)
    canvas.fill("polygon", front_quad(cam, x - 0.04, x + 0.04, 0, h, z), (120, 122, 125))
    canvas.begin(TRAFFIC_SIGN)
    kind = int(rng.integers(3))
    if kind == 0:  # prohibition: red ring on white
        canvas.fill("ellipse", front_ellipse(cam, x, h + 0.3, z, 0.32, 0.32), (200, 30, 30))
        canvas.detail("ellipse", front_ellipse(cam, x, h + 0.3, z, 0.23, 0.23), (235, 235, 235))
    elif kind == 1:  # warning: red-bordered triangle
        p = cam.point
        canvas.fill("polygon", [p(x - 0.38, h, z), p(x + 0.38, h, z), p(x, h + 0.66, z)], (200, 30, 30))
        canvas.detail("polygon", [p(x - 0.25, h + 0.08, z), p(x + 0.25, h + 0.08, z), p(x, h + 0.5, z)],
                      (235, 235, 230))
    else:  # information: blue panel
        canvas.fill("polygon", front_quad(cam, x - 0.3, x + 0.3, h, h + 0.6, z), (30, 80, 170))
        canvas.detail("polygon", front_quad(cam, x - 0.08, x + 0.08, h + 0.1, h + 0.5, z), (235, 235, 235))


def draw_traffic_light(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float) -> None:
    """A signal post: pole, black housing, one lamp lit."""
    h = rng.uniform(2.4, 3.0)
    canvas.begin(POLE)
    canvas.fill("polygon", front_quad(cam, x - 0.07, x + 0.07, 0, h, z), (70, 72, 74))
    canvas.begin(TRAFFIC_LIGHT)
    canvas.fill("polygon", front_quad(cam, x - 0.18, x + 0.18, h, h + 0.95, z), (30, 31, 33))
    lit = int(rng.integers(3))
    colours = [(235, 45, 35), (240, 180, 40), (60, 220, 120)]
    for k, colour in enumerate(colours):
        lamp = colour if k == lit else shade(colour, 0.25)
        canvas.detail("ellipse", front_ellipse(cam, x, h + 0.8 - 0.3 * k, z, 0.11, 0.11), lamp)


def draw_tree(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float) -> None:
    """A street tree: trunk and a crown of overlapping leaf clusters."""
    trunk_h, radius = rng.uniform(1.8, 3.0), rng.uniform(1.4, 2.6)
    canvas.begin(VEGETATION)
    canvas.fill("polygon", front_quad(cam, x - 0.14, x + 0.14, 0, trunk_h + radius, z), (84, 64, 46))
    green = vary(rng, (60, 96, 44), 14)
    for _ in range(6):
        dx, dy = rng.uniform(-0.6, 0.6) * radius, rng.uniform(-0.4, 0.5) * radius
        r = radius * rng.uniform(0.55, 0.85)
        canvas.fill("ellipse", front_ellipse(cam, x + dx, trunk_h + radius + dy, z, r, r * 0.9),
                    shade(green, rng.uniform(0.8, 1.15)))


def draw_bin(canvas: Canvas, cam: Camera, rng: np.random.Generator, x: float, z: float) -> None:
    """A rubbish bin: street furniture that Cityscapes leaves unlabelled (void)."""
    canvas.begin(VOID)
    colour = vary(rng, pick(rng, [(60, 100, 60), (90, 90, 95), (160, 120, 40)]))
    draw_box(canvas, cam, x - 0.3, x + 0.3, 0, 1.0, z, z + 0.6, colour)


def draw_bonnet(canvas: Canvas, cam: Camera, rng: np.random.Generator) -> None:
    """The ego vehicle's bonnet across the bottom of the frame (void)."""
    depth = rng.uniform(22, 34)
    cx = WIDTH / 2 + rng.uniform(-40, 40)
    canvas.begin(VOID)
    canvas.fill("ellipse", [cx - WIDTH * 0.8, HEIGHT - depth, cx + WIDTH * 0.8, HEIGHT + 3 * depth], (46, 48, 54))
    canvas.detail("ellipse", [cx - WIDTH * 0.55, HEIGHT - depth + 3, cx + WIDTH * 0.55, HEIGHT + depth],
                  (66, 70, 78))  # the sky reflected on the paint


# ------------------------------------------------------------------- scene

def place_objects(rng: np.random.Generator, st: Street) -> list[tuple[float, Callable[[Canvas, Camera], None]]]:
    """Choose the objects of one frame as (depth, draw function) pairs."""
    objects = []

    def add(z, fn, *args, **kw):
        objects.append((z, lambda c, cam: fn(c, cam, rng, *args, **kw)))

    walk_mid_l, walk_mid_r = (st.walk_left + st.road_left) / 2, (st.walk_right + st.road_right) / 2
    for parked, x in ((st.park_left, st.road_left + 1.1), (st.park_right, st.road_right - 1.1)):
        z = rng.uniform(8.5, 14)
        while parked and z < 90:
            if rng.random() < 0.75:
                add(z, draw_car, x + rng.uniform(-0.15, 0.15), z, toward_camera=x < 0)
            z += rng.uniform(6.5, 11)
    for _ in range(int(rng.integers(0, 3))):  # traffic ahead in our lane
        add(z := rng.uniform(12, 60), draw_car, rng.uniform(-0.3, 0.3), z)
    for _ in range(int(rng.integers(0, 4))):  # oncoming traffic
        add(z := rng.uniform(12, 80), draw_car, -LANE + rng.uniform(-0.3, 0.3), z, toward_camera=True)
    if rng.random() < 0.4:
        away = rng.random() < 0.5
        add(z := rng.uniform(15, 45), draw_truck, 0.0 if away else -LANE, z, toward_camera=not away)
    if rng.random() < 0.3:
        add(z := rng.uniform(20, 55), draw_bus, -LANE, z, toward_camera=True)
    if st.tram:
        add(z := rng.uniform(18, 35), draw_bus, -LANE, z, cls=TRAIN, toward_camera=True)
    for _ in range(int(rng.integers(2, 7))):  # pedestrians on both sidewalks
        x = pick(rng, [walk_mid_l, walk_mid_r]) + rng.uniform(-0.7, 0.7)
        add(z := rng.uniform(7, 50), draw_person, x, z)
    if st.crossing is not None and rng.random() < 0.7:
        add(st.crossing + 2, draw_person, rng.uniform(st.road_left, st.road_right), st.crossing + 2)
    if rng.random() < 0.45:
        add(z := rng.uniform(12, 30), draw_cyclist, rng.uniform(-3, 0.5), z)
    if rng.random() < 0.35:
        ridden = rng.random() < 0.5
        x = rng.uniform(-4, 0) if ridden else walk_mid_r
        add(z := rng.uniform(10, 30), draw_motorcycle, x, z, ridden)
    if rng.random() < 0.4:
        add(z := rng.uniform(8, 25), draw_bicycle, walk_mid_r + 0.5, z, 1, vary(rng, pick(rng, CAR_COLOURS)))
    phase = rng.uniform(6, 25)
    for k in range(6):  # street lamps at the curb on both sides
        add(phase + 30 * k, draw_street_lamp, st.road_left - 0.5, phase + 30 * k)
        add(phase + 15 + 30 * k, draw_street_lamp, st.road_right + 0.5, phase + 15 + 30 * k)
    for _ in range(int(rng.integers(1, 4))):
        x = pick(rng, [st.road_left - 0.4, st.road_right + 0.4])
        add(z := rng.uniform(9, 60), draw_sign, x, z)
    if st.crossing is not None:
        add(st.crossing, draw_traffic_light, st.road_right + 0.5, st.crossing)
        add(st.crossing + 4, draw_traffic_light, st.road_left - 0.5, st.crossing + 4)
    for face, walk, grass, kind in ((st.face_left, st.walk_left, st.grass_left, st.left_kind),
                                    (st.face_right, st.walk_right, st.grass_right, st.right_kind)):
        if kind == "trees":  # that side is a tree row already
            continue
        side = np.sign(face)
        x = face - side * 0.8 if grass else walk - side * 0.6  # on the grass strip, else at the sidewalk's back
        for z in np.arange(rng.uniform(7, 14), 120, rng.uniform(9, 16)):
            if rng.random() < (0.8 if kind == "mixed" else 0.35):
                add(z, draw_tree, x, z)
    for _ in range(int(rng.integers(0, 3))):
        add(z := rng.uniform(8, 40), draw_bin, pick(rng, [st.walk_left + 0.5, st.walk_right - 0.5]), z)
    return objects


def draw_scene(rng: np.random.Generator, tram: bool) -> tuple[Canvas, Camera]:
    """Draw one street far-to-near: sky, ground, skyline, facades, walls, objects, bonnet."""
    cam = Camera(horizon=rng.uniform(150, 185), centre=WIDTH / 2 + rng.uniform(-170, 170))
    st = Street(rng, tram)
    canvas = Canvas(sky_picture(rng, cam))
    draw_ground(canvas, cam, rng, st)
    draw_skyline(canvas, cam, rng)
    for face, kind in ((st.face_left, st.left_kind), (st.face_right, st.right_kind)):
        if kind == "trees":
            draw_tree_row(canvas, cam, rng, face)
        else:
            draw_buildings(canvas, cam, rng, face)
    draw_walls_and_fences(canvas, cam, rng, st)
    for _, draw in sorted(place_objects(rng, st), key=lambda item: -item[0]):
        draw(canvas, cam)
    draw_bonnet(canvas, cam, rng)
    return canvas, cam


# ---------------------------------------------------------------- rendering

TEXTURE = np.zeros(256, np.float32)  # strength of the surface texture per class
TEXTURE[[VEGETATION, TERRAIN, ROAD, SIDEWALK, BUILDING, WALL]] = [0.42, 0.22, 0.05, 0.05, 0.05, 0.07]


def render_picture(canvas: Canvas, cam: Camera, rng: np.random.Generator) -> np.ndarray:
    """Turn the flat paint into a photo-like picture: texture, road shading, mild grain."""
    label = np.asarray(canvas.label)
    rgb = np.asarray(canvas.paint).astype(np.float32)
    texture = 0.6 * smooth_noise(rng, 3) + 0.6 * smooth_noise(rng, 10)
    gain = 1.0 + TEXTURE[label] * texture
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None]
    near = np.clip((rows - cam.horizon) / (HEIGHT - cam.horizon), 0, 1)
    gain *= np.where(label == ROAD, 1.0 - 0.22 * near, 1.0)  # asphalt darkens toward the car
    rgb *= gain[:, :, None]
    rgb += rng.integers(-1, 2, size=(HEIGHT, WIDTH, 1))  # sensor grain
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


# --------------------------------------------------------- simulated model

def dilate(mask: np.ndarray, k: int) -> np.ndarray:
    """Grow a boolean mask by k pixels (square neighbourhood)."""
    out = mask.copy()
    for _ in range(k):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        out = grown.copy()
        out[:, 1:] |= grown[:, :-1]
        out[:, :-1] |= grown[:, 1:]
    return out


def erode(mask: np.ndarray, k: int) -> np.ndarray:
    return ~dilate(~mask, k)


def fill_from_neighbours(pred: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Give each hole pixel the class of the nearest non-hole pixel (grown step by step)."""
    pred, hole = pred.copy(), hole.copy()
    while hole.any():
        before = int(hole.sum())
        for src, dst in (((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                         ((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
                         ((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
                         ((slice(None), slice(1, None)), (slice(None), slice(None, -1)))):
            take = hole[dst] & ~hole[src]
            pred[dst][take] = pred[src][take]
            hole[dst] &= ~take
        if int(hole.sum()) == before:
            break
    return pred


def blobs(rng: np.random.Generator, where: np.ndarray, cell: int, fraction: float) -> np.ndarray:
    """Smooth random patches covering about `fraction` of the `where` pixels."""
    if fraction <= 0 or not where.any():
        return np.zeros_like(where)
    noise = smooth_noise(rng, cell)
    return where & (noise > np.quantile(noise[where], 1.0 - fraction))


SIMILAR = {TRUCK: CAR, BUS: TRUCK, TRAIN: BUS, RIDER: PERSON, MOTORCYCLE: BICYCLE, BICYCLE: MOTORCYCLE,
           WALL: BUILDING, FENCE: WALL, TRAFFIC_LIGHT: POLE, TRAFFIC_SIGN: POLE}
SMALL_THINGS = {POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, PERSON, RIDER, BICYCLE, MOTORCYCLE}
THINGS = [POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE]


def confuse_objects(pred, label, instances, classes, rng, severity: float) -> None:
    """Whole objects go wrong: small ones are missed, some get a similar class."""
    sizes = np.bincount(instances.ravel(), minlength=len(classes))
    for inst, cls in enumerate(classes):
        if cls in SMALL_THINGS and 0 < sizes[inst] < 400:  # the smaller, the likelier to be missed
            if rng.random() < min(0.9, 0.25 * severity * (400 / (sizes[inst] + 100))):
                mask = (instances == inst) & (label == cls)
                pred[mask] = VOID  # filled later with the surroundings
        if cls in SIMILAR and sizes[inst] > 0 and rng.random() < 0.3 * severity:
            mask = (instances == inst) & (label == cls)
            if rng.random() < 0.5:  # only part of the object
                mask = blobs(rng, mask, 16, 0.5)
            pred[mask & (pred == cls)] = SIMILAR[cls]


def confuse_regions(pred, label, rng, severity: float) -> None:
    """Stuff classes bleed into each other: road/sidewalk, vegetation/terrain, wall/building."""
    pairs = [(ROAD, SIDEWALK, 0.04), (SIDEWALK, ROAD, 0.10), (TERRAIN, VEGETATION, 0.15),
             (SIDEWALK, TERRAIN, 0.04), (TERRAIN, SIDEWALK, 0.08), (WALL, BUILDING, 0.25),
             (FENCE, VEGETATION, 0.12)]
    for true, wrong, fraction in pairs:
        patch = blobs(rng, pred == true, int(rng.integers(25, 50)), fraction * severity)
        pred[patch] = wrong
    near_trees = dilate(label == VEGETATION, 25) & (pred == BUILDING)
    pred[blobs(rng, near_trees, 15, 0.1 * severity)] = VEGETATION
    for a, b in ((ROAD, SIDEWALK), (VEGETATION, TERRAIN)):  # a wavy border between the two
        k = int(round(6 * severity)) + 2
        band = dilate(label == a, k) & dilate(label == b, k) & np.isin(pred, (a, b))
        swap = blobs(rng, band, 22, 0.35)
        pred[swap] = np.where(pred[swap] == a, b, a)


def hallucinate(pred, label, rng, cam_horizon: float, severity: float) -> None:
    """A few blobs of a car on the road or a person on the sidewalk where there is none."""
    img = Image.fromarray(pred)
    draw = ImageDraw.Draw(img)
    rows = np.arange(HEIGHT)[:, None]
    for _ in range(int(rng.poisson(0.7 * severity)) + 1):
        cls, ground = (CAR, ROAD) if rng.random() < 0.5 else (PERSON, SIDEWALK)
        far = (rows > cam_horizon + 8) & (rows < (cam_horizon + HEIGHT) / 2)  # small, far away
        spots = np.flatnonzero((label == ground) & far)
        if spots.size == 0:
            continue
        y, x = divmod(int(spots[rng.integers(spots.size)]), WIDTH)
        s = (y - cam_horizon) / CAM_HEIGHT  # pixels per metre at that ground row
        half_width, height = (0.7, 1.0) if cls == CAR else (0.2, 1.3)
        draw.ellipse([x - half_width * s, y - height * s, x + half_width * s, y], fill=cls)
    pred[:] = np.asarray(img)


def warp(pred: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Shift all boundaries by a smooth random displacement of a few pixels."""
    dy = np.rint(amplitude * 1.6 * smooth_noise(rng, 30)).astype(np.int64)
    dx = np.rint(amplitude * 1.6 * smooth_noise(rng, 30)).astype(np.int64)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    return pred[np.clip(yy + dy, 0, HEIGHT - 1), np.clip(xx + dx, 0, WIDTH - 1)]


def resize_objects(pred: np.ndarray, rng: np.random.Generator, severity: float) -> None:
    """Object classes come out a little fatter or thinner than they are."""
    for cls in THINGS:
        mask = pred == cls
        if not mask.any():
            continue
        k = int(rng.integers(1, 2 + int(severity * 1.5)))
        if rng.random() < 0.6:
            grow = dilate(mask, k) & ~np.isin(pred, THINGS)
            pred[grow] = cls
        else:
            pred[mask & ~erode(mask, k)] = VOID


BETTER_MODEL_SEVERITY = 0.6  # --better-inferences: its errors are this much milder


def simulate_inference(canvas: Canvas, cam: Camera, rng: np.random.Generator, severity: float) -> np.ndarray:
    label = np.asarray(canvas.label)
    instances = np.asarray(canvas.instances)
    pred = label.copy()
    confuse_objects(pred, label, instances, canvas.classes, rng, severity)
    pred = fill_from_neighbours(pred, pred == VOID)  # missed objects become their background
    confuse_regions(pred, label, rng, severity)
    hallucinate(pred, label, rng, cam.horizon, severity)
    pred = np.where(label == VOID, VOID, pred).astype(np.uint8)  # void is filled after the warp
    pred = warp(pred, rng, 1.5 * severity)
    resize_objects(pred, rng, severity)
    return fill_from_neighbours(pred, pred == VOID)  # void (e.g. the bonnet) gets a neighbour's class


# --------------------------------------------------------------------- main

def make_sample(sample_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Picture, label and inference of one frame, all derived from its id."""
    index = int(sample_id.split("_")[0])
    canvas, cam = draw_scene(np.random.default_rng([index, 0]), tram=sample_id in TRAM_FRAMES)
    picture = render_picture(canvas, cam, np.random.default_rng([index, 1]))
    inf_rng = np.random.default_rng([index, 2])
    severity = inf_rng.uniform(0.8, 1.2) * (2.3 if sample_id in POOR_FRAMES else 1.0)
    inference = simulate_inference(canvas, cam, inf_rng, severity)
    return picture, np.asarray(canvas.label), inference


def make_better_inference(sample_id: str) -> np.ndarray:
    """A second model's inference of one frame: the same kinds of errors, milder (for comparing models)."""
    index = int(sample_id.split("_")[0])
    canvas, cam = draw_scene(np.random.default_rng([index, 0]), tram=sample_id in TRAM_FRAMES)
    inf_rng = np.random.default_rng([index, 3])
    severity = inf_rng.uniform(0.8, 1.2) * (2.3 if sample_id in POOR_FRAMES else 1.0) * BETTER_MODEL_SEVERITY
    return simulate_inference(canvas, cam, inf_rng, severity)


def make_sample_data(out_dir) -> list[str]:
    """Write images/, labels/ (with class_names.txt) and inferences/ into out_dir; return the ids."""
    out = Path(out_dir)
    for sub in ("images", "labels", "inferences"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / "labels" / "class_names.txt").write_text("\n".join(CLASS_NAMES + ["255: void", "ignore: 255"]) + "\n")
    for sample_id in SAMPLE_IDS:
        picture, label, inference = make_sample(sample_id)
        Image.fromarray(picture).save(out / "images" / f"{sample_id}.png")
        Image.fromarray(label).save(out / "labels" / f"{sample_id}.png")
        Image.fromarray(inference).save(out / "inferences" / f"{sample_id}.png")
    return list(SAMPLE_IDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=default, metavar="DIR",
                        help="folder to write images/, labels/, inferences/ into (default: repository root)")
    parser.add_argument("--better-inferences", type=Path, metavar="DIR",
                        help="instead, write a second, better model's inferences of the samples into DIR")
    args = parser.parse_args(argv)
    if args.better_inferences:
        args.better_inferences.mkdir(parents=True, exist_ok=True)
        for sample_id in SAMPLE_IDS:
            Image.fromarray(make_better_inference(sample_id)).save(args.better_inferences / f"{sample_id}.png")
        print(f"wrote {len(SAMPLE_IDS)} inferences of a better model into {args.better_inferences}")
        return 0
    ids = make_sample_data(args.out)
    print(f"wrote {len(ids)} samples into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
