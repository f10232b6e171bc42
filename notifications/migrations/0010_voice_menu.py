"""Reminder calls that listen (issue 15, point 3): the keys a borrower presses on an automated call, and the text
with the balance and how to pay that "press 1" asks for, seeded in English and Simplified Chinese (admins edit it)."""

import django.db.models.deletion
from django.db import migrations, models

BALANCE = {
    "en": "{lender}: {name}, the balance of loan {reference} is {balance}, of which {amount_due} is overdue. "
    "Pay at {pay_link} or call {help_phone}. Reply STOP to opt out.",
    "zh-hans": "【{lender}】{name}您好，您的借款（{reference}）待还余额 {balance}，其中逾期 {amount_due}。"
    "请通过 {pay_link} 还款，或致电 {help_phone}。回复TD退订",
}


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for language, body in BALANCE.items():
        MessageTemplate.objects.get_or_create(
            purpose="balance", channel="sms", language=language, is_active=True, defaults={"body": body}
        )


def unseed(apps, schema_editor):
    apps.get_model("notifications", "MessageTemplate").objects.filter(purpose="balance").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('collections_app', '0014_portfolio_snapshot_team'),
        ('loans', '0002_installment_unpaid_due_index'),
        ('notifications', '0008_outbox_planned_for'),
    ]

    operations = [
        migrations.AlterField(
            model_name='messagetemplate',
            name='purpose',
            field=models.CharField(choices=[('pre_due', 'pre-due reminder'), ('reminder', 'reminder'), ('formal_notice', 'formal notice'), ('legal', 'legal'), ('promise_reminder', 'promise reminder'), ('plan_reminder', 'plan reminder'), ('opt_out_confirmation', 'opt-out confirmation'), ('balance', 'balance and how to pay')], max_length=24, verbose_name='purpose'),
        ),
        migrations.AlterField(
            model_name='outboundmessage',
            name='purpose',
            field=models.CharField(choices=[('pre_due', 'pre-due reminder'), ('reminder', 'reminder'), ('formal_notice', 'formal notice'), ('legal', 'legal'), ('promise_reminder', 'promise reminder'), ('plan_reminder', 'plan reminder'), ('opt_out_confirmation', 'opt-out confirmation'), ('balance', 'balance and how to pay')], max_length=24, verbose_name='purpose'),
        ),
        migrations.CreateModel(
            name='VoiceKeypress',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('call_sid', models.CharField(max_length=64, verbose_name="provider's call id")),
                ('step', models.CharField(choices=[('menu', 'menu'), ('promise_days', 'days until the promised payment')], max_length=16, verbose_name='step')),
                ('digits', models.CharField(blank=True, max_length=16, verbose_name='keys pressed')),
                ('action', models.CharField(choices=[('balance_sms', 'asked for the balance by text message'), ('promise', 'promised a date'), ('opt_out', 'asked for no more automated calls'), ('unknown', 'pressed a key the menu does not offer')], max_length=16, verbose_name='action')),
                ('done', models.BooleanField(default=False, verbose_name='carried out')),
                ('result', models.TextField(blank=True, verbose_name='what happened')),
                ('at', models.DateTimeField(auto_now_add=True, verbose_name='at')),
                ('borrower', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='loans.borrower')),
                ('call', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='keypresses', to='notifications.outboundmessage')),
                ('case', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='keypresses', to='collections_app.collectioncase')),
            ],
            options={
                'verbose_name': 'key pressed on a reminder call',
                'verbose_name_plural': 'keys pressed on reminder calls',
                'indexes': [models.Index(fields=['case', 'at'], name='notificatio_case_id_30ad7f_idx')],
            },
        ),
        migrations.RunPython(seed, unseed),
    ]
