"""Exercises of chapters/vision/boxes.ipynb: GIoU by hand, converting a box, DIoU of disjoint boxes."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

ex = exercise("vision.boxes.1", chapter="vision/boxes", title="GIoU by hand")
_B, _G = np.array([[0.0, 0.0, 4.0, 4.0]]), np.array([[2.0, 2.0, 6.0, 6.0]])


@ex.solution
def _():
    return float(lossbook.box_iou_loss(_B, _G, kind="giou", eps=0.0)[0])


@ex.mistake("That is the IoU loss 1 - 1/7; GIoU adds the empty share of the enclosing box, (36 - 28) / 36.")
def _():
    return 1 - 1 / 7


@ex.mistake("You divided the empty area by the union (8 / 28); GIoU divides it by the enclosing box's area (36).")
def _():
    return 1 - 1 / 7 + 8 / 28


ex = exercise("vision.boxes.2", chapter="vision/boxes", title="Converting a box")


@ex.solution
def _():
    return lossbook.box_convert(np.array([5.0, 5.0, 4.0, 2.0]), "cxcywh", "xyxy")


@ex.mistake("You read the box as (x, y, w, h), top-left corner and size; it is (cx, cy, w, h), centre and size.")
def _():
    return np.array([5.0, 5.0, 9.0, 7.0])


@ex.mistake("You subtracted and added the whole width and height; the corners are the centre -/+ half the size.")
def _():
    return np.array([1.0, 3.0, 9.0, 7.0])


ex = exercise("vision.boxes.3", chapter="vision/boxes", title="DIoU of two disjoint boxes")
_P, _T = np.array([[0.0, 0, 2, 2]]), np.array([[4.0, 0, 6, 2]])


@ex.solution
def _():
    return float(lossbook.box_iou_loss(_P, _T, kind="diou", eps=0.0)[0])


@ex.mistake("That is the IoU loss of disjoint boxes; DIoU adds rho^2 / c^2 = 16 / 40.")
def _():
    return 1.0


@ex.mistake("You divided the distances, not their squares: rho / c = 4 / sqrt(40); DIoU uses rho^2 / c^2.")
def _():
    return 1 + 4 / np.sqrt(40)
