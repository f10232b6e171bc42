"""E-mail sent for real (issue 16): templates may attach a document; the seeded e-mails say how to unsubscribe by
the link every e-mail now carries (not "Reply STOP", which means nothing in an e-mail), each purpose has a subject of
its own, and the purposes that had no e-mail get one. Only templates still as seeded are changed; an admin's edit is
left alone."""

import importlib

from django.db import migrations, models

SEEDED = importlib.import_module("notifications.migrations.0003_seed_templates")
LISTED = importlib.import_module("notifications.migrations.0007_reminders_list_loans")

EMAIL_OPT_OUT = {
    "en": " To stop these e-mails, use the unsubscribe link at the end.",
    "zh-hans": "如需退订邮件，请点击邮件末尾的退订链接。",
}
SEEDED_SUBJECT = {"en": "Your loan {reference}", "zh-hans": "关于您的借款 {reference}"}
SUBJECTS = {
    "pre_due": {"en": "{lender}: your installment is due on {due_date}", "zh-hans": "【{lender}】您的借款 {reference} 将于 {due_date} 到期"},
    "reminder": {"en": "{lender}: payment overdue on loan {reference}", "zh-hans": "【{lender}】您的借款 {reference} 已逾期"},
    "formal_notice": {"en": "{lender}: formal notice about loan {reference}", "zh-hans": "【{lender}】关于借款 {reference} 的正式通知"},
    "legal": {"en": "{lender}: your account {reference} has been referred to our legal team", "zh-hans": "【{lender}】您的账户 {reference} 已转交法务部门"},
    "promise_reminder": {"en": "{lender}: the payment you promised on loan {reference}", "zh-hans": "【{lender}】还款承诺提醒（借款 {reference}）"},
    "plan_reminder": {"en": "{lender}: your plan installment is due tomorrow", "zh-hans": "【{lender}】还款计划明日到期（借款 {reference}）"},
}
NEW_PURPOSES = ("pre_due", "promise_reminder", "plan_reminder")  # no e-mail was seeded for these


def text_of(purpose, language):
    """The seeded words of a purpose as they stand after 0007 (the stage reminders list their loans)."""
    return (LISTED.NEW.get(purpose) or SEEDED.TEXTS[purpose])[language]


def forward(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for purpose, subjects in SUBJECTS.items():
        for language, subject in subjects.items():
            text = text_of(purpose, language)
            emails = MessageTemplate.objects.filter(purpose=purpose, channel="email", language=language)
            emails.filter(body=text + SEEDED.OPT_OUT[language]).update(body=text + EMAIL_OPT_OUT[language])
            emails.filter(subject__in=["", SEEDED_SUBJECT[language]]).update(subject=subject)
            if purpose in NEW_PURPOSES and not emails.filter(is_active=True).exists():
                MessageTemplate.objects.create(
                    purpose=purpose, channel="email", language=language, subject=subject,
                    body=text + EMAIL_OPT_OUT[language],
                )


def back(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for purpose, subjects in SUBJECTS.items():
        for language, subject in subjects.items():
            text = text_of(purpose, language)
            emails = MessageTemplate.objects.filter(purpose=purpose, channel="email", language=language)
            if purpose in NEW_PURPOSES:
                emails.filter(body=text + EMAIL_OPT_OUT[language], subject=subject).delete()
                continue
            emails.filter(body=text + EMAIL_OPT_OUT[language]).update(body=text + SEEDED.OPT_OUT[language])
            emails.filter(subject=subject).update(subject=SEEDED_SUBJECT[language])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0012_portal_links")]

    operations = [
        migrations.AddField(
            model_name="messagetemplate",
            name="attachment",
            field=models.CharField(
                blank=True,
                default="",
                help_text="E-mail and letters only: the document attached to each message (blank: none).",
                max_length=40,
                verbose_name="attached document",
            ),
        ),
        migrations.RunPython(forward, back),
    ]
