from django.db import migrations

# Street zoom lists the newest reports of each public point: (point, occurred_at, id) in one
# index lets PostgreSQL read just those rows, newest first, and stop (with occurred_at alone
# it read and sorted every report of the point to break ties on id). SQLite appends the rowid
# to every index by itself. The index still serves every other read by public point.
OLD = "crowdmap_report_public_point"
NEW = "crowdmap_report_point_newest"


class Migration(migrations.Migration):
    dependencies = [
        ("crowdmap", "0004_covering_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {NEW} ON reports_report "
            "(status, public_latitude, public_longitude, occurred_at, id)",
            f"DROP INDEX IF EXISTS {NEW}",
        ),
        migrations.RunSQL(
            f"DROP INDEX IF EXISTS {OLD}",
            f"CREATE INDEX IF NOT EXISTS {OLD} ON reports_report "
            "(status, public_latitude, public_longitude, occurred_at)",
        ),
    ]
