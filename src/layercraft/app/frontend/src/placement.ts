// Placement (top-left of the scaled box, clockwise rotation about its centre, flips) <-> Konva node attributes.

import type Konva from "konva";
import type { Placement } from "./types";

export interface NodeAttrs {
  x: number;
  y: number;
  offsetX: number;
  offsetY: number;
  scaleX: number;
  scaleY: number;
  rotation: number;
}

export function toNode(p: Placement, width: number, height: number): NodeAttrs {
  return {
    x: p.x + (width * p.scale) / 2,
    y: p.y + (height * p.scale) / 2,
    offsetX: width / 2,
    offsetY: height / 2,
    scaleX: p.scale * (p.flip_h ? -1 : 1),
    scaleY: p.scale * (p.flip_v ? -1 : 1),
    rotation: p.rotation,
  };
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export function fromNode(node: Konva.Node, width: number, height: number): Placement {
  const scale = round(Math.abs(node.scaleX()), 4);
  let rotation = round(node.rotation() % 360, 2);
  if (rotation > 180) rotation -= 360;
  if (rotation <= -180) rotation += 360;
  return {
    x: Math.round(node.x() - (width * scale) / 2),
    y: Math.round(node.y() - (height * scale) / 2),
    scale,
    rotation,
    flip_h: node.scaleX() < 0,
    flip_v: node.scaleY() < 0,
  };
}
