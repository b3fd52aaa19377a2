"""The legal hold on a patient's record, and the permission to purge: purge_expired never removes a held record."""

import django.db.models.deletion
import novamind.encryption
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='patient',
            options={'ordering': ['mrn'], 'permissions': [('purge_patient', "Can purge a patient's expired record (purge_expired)")], 'verbose_name': 'patient'},
        ),
        migrations.AddField(
            model_name='historicalpatient',
            name='legal_hold',
            field=models.BooleanField(default=False, editable=False, help_text='Records under a legal hold are never purged. Placed and released with the patient actions, with a reason.', verbose_name='legal hold'),
        ),
        migrations.AddField(
            model_name='historicalpatient',
            name='legal_hold_changed_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='legal hold placed or released'),
        ),
        migrations.AddField(
            model_name='historicalpatient',
            name='legal_hold_changed_by',
            field=models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='legal hold placed or released by'),
        ),
        migrations.AddField(
            model_name='historicalpatient',
            name='legal_hold_reason',
            field=novamind.encryption.EncryptedTextField(blank=True, editable=False, help_text='Why the hold was last placed or released.', verbose_name='legal hold reason'),
        ),
        migrations.AddField(
            model_name='patient',
            name='legal_hold',
            field=models.BooleanField(default=False, editable=False, help_text='Records under a legal hold are never purged. Placed and released with the patient actions, with a reason.', verbose_name='legal hold'),
        ),
        migrations.AddField(
            model_name='patient',
            name='legal_hold_changed_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='legal hold placed or released'),
        ),
        migrations.AddField(
            model_name='patient',
            name='legal_hold_changed_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='legal hold placed or released by'),
        ),
        migrations.AddField(
            model_name='patient',
            name='legal_hold_reason',
            field=novamind.encryption.EncryptedTextField(blank=True, editable=False, help_text='Why the hold was last placed or released.', verbose_name='legal hold reason'),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.CheckConstraint(condition=models.Q(('legal_hold', False), models.Q(('legal_hold_changed_at__isnull', False), ('legal_hold_changed_by__isnull', False)), _connector='OR'), name='patients_patient_legal_hold_attributed'),
        ),
    ]
