from django.core.management.base import BaseCommand, CommandError

from automation.services.projects import SNAPSHOTS_KEEP, snapshots_prune


class Command(BaseCommand):
    help = (
        "Remove the files of project snapshots no pending or running job needs and that are "
        "not their project's current revision, keeping the most recent ones of each project. "
        "The rows stay (jobs still name their revision). Runs daily on a schedule."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--keep",
            type=int,
            default=SNAPSHOTS_KEEP,
            help=f"Recent snapshots kept per project besides those in use "
            f"(default {SNAPSHOTS_KEEP}).",
        )

    def handle(self, *args, keep, **options):
        if keep < 0:
            raise CommandError("--keep must be 0 or more.")
        removed = snapshots_prune(keep=keep)
        self.stdout.write(f"Done. Pruned {removed} snapshots.")
