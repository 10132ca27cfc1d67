"""``wnet classes train``: teach a classifier from the classes of labelled points (a QuPath
export as it is: each point's ``classification.name`` is its class; points without a class are
ignored), on one or more slides, for one detector — or from the nuclei classed by hand in the
app on every slide of a project (``--project``), as the dock's *Train classifier* does."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from .arguments import MPP

    p = sub.add_parser("classes", help="teach your own nucleus classes from labelled points")
    verbs = p.add_subparsers(dest="verb", required=True)
    t = verbs.add_parser("train", help="labelled points on slides → a classifier card (use it with `wnet detect --classifier`)")
    t.add_argument("--slide", action="append", default=[], help="a slide or tile (repeat with --points for several)")
    t.add_argument("--points", action="append", default=[], help="its labelled points: GeoJSON (QuPath's export works as it is)")
    t.add_argument("--project", help="a project folder (or its project file): the nuclei classed by hand on its slides in the app")
    t.add_argument("--mpp", type=MPP, help="microns per pixel of the slides, overriding their own")
    t.add_argument("--model", default="accurate", help="the detector whose features it reads (default: accurate)")
    t.add_argument("--name", help="the classifier's name (default: the output's file name, else 'classes')")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    t.add_argument("-o", "--output", help="the classifier card to write (NAME.json, with NAME.npz beside it); "
                                          "default: NAME in your model folder, where `--classifier NAME` and `wnet models` find it")
    t.set_defaults(handler="classes_cmd:train")


def train(args: argparse.Namespace) -> int:
    import numpy as np

    from ..annotations.geojson import read_geojson
    from ..classify.teach import LabelledSlide, teach
    from ..engine.detect import DetectOptions
    from ..models.zoo import resolve_card

    if len(args.slide) != len(args.points):
        raise ValueError(f"give one --points file per --slide ({len(args.slide)} slides, {len(args.points)} points files)")
    if not args.slide and not args.project:
        raise ValueError("say what was labelled: --slide S --points P (repeatable), or --project FOLDER")
    labelled = []
    if args.project:
        from ..projects import Project
        from ..projects.work import hand_labelled_slides
        from ..settings import is_project

        if not is_project(args.project):
            raise ValueError(f"{args.project} is not a project (a folder the app opened as one, or its project file)")
        labelled, unscaled = hand_labelled_slides(Project.open(args.project, scan=False), mpp=args.mpp)
        for item in labelled:
            print(f"{item.path.name}: {len(item.xy)} nuclei classed by hand")
        if unscaled:
            print(f"left out, scale unknown (state it in the app, or give --mpp): {', '.join(unscaled)}")
    for slide, points in zip(args.slide, args.points):
        parsed = read_geojson(points)
        keep = [i for i, c in enumerate(parsed.classes) if c != "Nucleus"]
        xy = np.stack([np.asarray(parsed.xs)[keep], np.asarray(parsed.ys)[keep]], axis=1) if keep else np.zeros((0, 2))
        labelled.append(LabelledSlide(Path(slide), xy, [parsed.classes[i] for i in keep], args.mpp, dict(parsed.class_colors)))
        print(f"{Path(points).name}: {len(keep)} labelled nuclei of {len(parsed)} on {Path(slide).name}")
    from ..classify.card import classifiers_dir

    detector = resolve_card(args.model)
    name = args.name or (Path(args.output).stem if args.output else "classes")
    output = Path(args.output) if args.output else classifiers_dir() / f"{name}.json"
    card = teach(labelled, detector, name, DetectOptions(device=args.device, mpp=args.mpp),
                 progress=lambda k, n, name: print(f"reading features on {name} ({k + 1}/{n})…"))
    card.save(output)
    counts = ", ".join(f"{c}: {n}" for c, n in card.counts.items())
    print(f"{output}: {len(card.classes)} classes ({counts}); cross-validated accuracy on the labelled nuclei {card.cv_accuracy:.3f}; "
          f"for `wnet detect --model {detector.name} --classifier {name if not args.output else output}`")
    return 0
