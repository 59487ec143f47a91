"""The analytics rollup tables move from automation to insights: state only.

The tables exist already (automation 0003 created them) and keep their names through each
model's ``db_table``, so no table is created, renamed or rewritten and no row is touched; only
Django's picture of which app owns them changes. automation 0004 removes them from automation's
picture, 0002 here moves their content types (and so permissions and admin log entries).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('automation', '0003_job_daily_stats'),
        ('inventory', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='JobActivityStat',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('bucket', models.DateTimeField(unique=True)),
                        ('runs', models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        'db_table': 'job_activity_stats',
                    },
                ),
                migrations.CreateModel(
                    name='RollupWatermark',
                    fields=[
                        ('name', models.CharField(max_length=40, primary_key=True, serialize=False)),
                        ('last_id', models.PositiveBigIntegerField(default=0)),
                    ],
                    options={
                        'db_table': 'rollup_watermarks',
                    },
                ),
                migrations.CreateModel(
                    name='AuditDailyStat',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('user_id', models.PositiveBigIntegerField()),
                        ('action', models.CharField(max_length=32)),
                        ('count', models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        'db_table': 'audit_daily_stats',
                        'constraints': [models.UniqueConstraint(fields=('day', 'user_id', 'action'), name='uniq_audit_daily_stat')],
                    },
                ),
                migrations.CreateModel(
                    name='JobFailureStat',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('signature', models.CharField(max_length=40)),
                        ('message', models.CharField(max_length=500)),
                        ('runs', models.PositiveIntegerField(default=0)),
                        ('last_seen', models.DateTimeField()),
                    ],
                    options={
                        'db_table': 'job_failure_stats',
                        'constraints': [models.UniqueConstraint(fields=('day', 'signature'), name='uniq_job_failure_stat')],
                    },
                ),
                migrations.CreateModel(
                    name='JobDailyStat',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('playbook_sha256', models.CharField(blank=True, max_length=64)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('success', 'Success'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], max_length=20)),
                        ('runs', models.PositiveIntegerField(default=0)),
                        ('timed_runs', models.PositiveIntegerField(default=0)),
                        ('duration_sum', models.FloatField(default=0)),
                        ('duration_max', models.FloatField(default=0)),
                        ('h0', models.PositiveIntegerField(default=0)),
                        ('h1', models.PositiveIntegerField(default=0)),
                        ('h2', models.PositiveIntegerField(default=0)),
                        ('h3', models.PositiveIntegerField(default=0)),
                        ('h4', models.PositiveIntegerField(default=0)),
                        ('h5', models.PositiveIntegerField(default=0)),
                        ('h6', models.PositiveIntegerField(default=0)),
                        ('h7', models.PositiveIntegerField(default=0)),
                        ('h8', models.PositiveIntegerField(default=0)),
                        ('h9', models.PositiveIntegerField(default=0)),
                        ('h10', models.PositiveIntegerField(default=0)),
                        ('h11', models.PositiveIntegerField(default=0)),
                        ('h12', models.PositiveIntegerField(default=0)),
                        ('h13', models.PositiveIntegerField(default=0)),
                        ('h14', models.PositiveIntegerField(default=0)),
                        ('h15', models.PositiveIntegerField(default=0)),
                        ('playbook', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='automation.playbook')),
                    ],
                    options={
                        'db_table': 'job_daily_stats',
                        'indexes': [models.Index(fields=['day', 'playbook', 'playbook_sha256', 'status', 'runs'], name='idx_job_daily_stat_runs')],
                        'constraints': [models.UniqueConstraint(fields=('day', 'playbook', 'playbook_sha256', 'status'), name='uniq_job_daily_stat')],
                    },
                ),
                migrations.CreateModel(
                    name='JobServerDailyStat',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('runs', models.PositiveIntegerField(default=0)),
                        ('failed', models.PositiveIntegerField(default=0)),
                        ('server', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='inventory.server')),
                    ],
                    options={
                        'db_table': 'job_server_daily_stats',
                        'indexes': [models.Index(fields=['day', 'server', 'runs', 'failed'], name='idx_job_server_stat_runs')],
                        'constraints': [models.UniqueConstraint(fields=('day', 'server'), name='uniq_job_server_daily_stat')],
                    },
                ),
            ],
        ),
    ]
