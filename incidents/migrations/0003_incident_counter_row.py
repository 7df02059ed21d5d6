from django.db import migrations
from django.db.models import Max


def create_counter(apps, schema_editor):
    Counter = apps.get_model("incidents", "Counter")
    Incident = apps.get_model("incidents", "Incident")
    highest = Incident.objects.aggregate(n=Max("number"))["n"] or 0
    Counter.objects.update_or_create(name="incident", defaults={"value": highest})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_audit_entry")]

    operations = [migrations.RunPython(create_counter, migrations.RunPython.noop)]
