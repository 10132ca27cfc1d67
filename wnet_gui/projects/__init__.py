"""Projects: a study's slides, their state and the work done on all of them (Qt-free)."""

from .project import PROJECT_FILE, STATES, Project, ProjectError, SlideEntry, project_file_for
from .work import detect_on_cluster, detect_pending, draw_masks, export_all, load_annotations, refresh_entry, save_annotations

__all__ = [
    "PROJECT_FILE",
    "Project",
    "ProjectError",
    "STATES",
    "SlideEntry",
    "detect_on_cluster",
    "detect_pending",
    "draw_masks",
    "export_all",
    "load_annotations",
    "project_file_for",
    "refresh_entry",
    "save_annotations",
]
