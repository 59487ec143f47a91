"""Content types of the moved rollup models follow them from automation to insights.

Permissions and admin log entries point at a content type by id, so renaming the rows'
app_label carries them along. On a fresh database there is nothing to rename yet: Django creates
the insights content types after migrating.
"""

from django.db import migrations

MOVED = [
    "jobdailystat",
    "jobserverdailystat",
    "jobactivitystat",
    "jobfailurestat",
    "auditdailystat",
    "rollupwatermark",
]


def _move(apps, schema_editor, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(
        ContentType.objects.using(db)
        .filter(app_label=target, model__in=MOVED)
        .values_list("model", flat=True)
    )
    # A row already under the target (a half-finished earlier attempt) wins; the other is left
    # for remove_stale_contenttypes rather than merged here.
    ContentType.objects.using(db).filter(app_label=source, model__in=set(MOVED) - taken).update(
        app_label=target
    )


def forwards(apps, schema_editor):
    _move(apps, schema_editor, "automation", "insights")


def backwards(apps, schema_editor):
    _move(apps, schema_editor, "insights", "automation")


class Migration(migrations.Migration):

    dependencies = [
        ("insights", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
