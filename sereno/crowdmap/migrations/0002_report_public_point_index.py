from django.db import migrations

# The map reads published reports by public point (viewport edges, street zoom, the naive
# comparison). Raw SQL so that the reports app's model state is left alone.
INDEX = "crowdmap_report_public_point"
INDEX_LON = "crowdmap_report_public_lon"


class Migration(migrations.Migration):
    dependencies = [
        ("crowdmap", "0001_initial"),
        ("reports", "0002_seed_categories"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON reports_report "
            "(status, public_latitude, public_longitude, occurred_at)",
            f"DROP INDEX IF EXISTS {INDEX}",
        ),
        # The viewport's left and right edges are ranges of longitude.
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX_LON} ON reports_report "
            "(status, public_longitude, public_latitude)",
            f"DROP INDEX IF EXISTS {INDEX_LON}",
        ),
    ]
