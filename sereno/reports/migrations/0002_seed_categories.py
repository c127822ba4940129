from django.db import migrations

from sereno.reports.taxonomy import CATEGORIES


def seed(apps, schema_editor):
    Category = apps.get_model("reports", "Category")
    by_slug = {}
    for position, (slug, parent, name_es, name_en, sensitive, color) in enumerate(CATEGORIES):
        by_slug[slug], _ = Category.objects.update_or_create(
            slug=slug,
            defaults={
                "parent": by_slug.get(parent),
                "name_es": name_es,
                "name_en": name_en,
                "sensitive": sensitive,
                "color": color,
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
