"""The analytics rollup models now belong to the insights app: state only.

Their tables stay as they are (insights declares the same ``db_table`` names and takes them over
in insights 0001), so nothing is dropped. No dependency on insights: automation's migrations do
not need to know the app above it, and no foreign key points at these models.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("automation", "0003_job_daily_stats"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="JobActivityStat"),
                migrations.DeleteModel(name="RollupWatermark"),
                migrations.DeleteModel(name="AuditDailyStat"),
                migrations.DeleteModel(name="JobFailureStat"),
                migrations.DeleteModel(name="JobDailyStat"),
                migrations.DeleteModel(name="JobServerDailyStat"),
            ],
        ),
    ]
