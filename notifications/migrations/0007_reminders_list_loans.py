"""The stage reminders list every loan they cover ({loans}): one reminder per borrower per slot is about every
overdue loan of theirs. Only templates still as seeded (0003) are rewritten; an admin's edit is left alone."""

import importlib

from django.db import migrations

SEEDED = importlib.import_module("notifications.migrations.0003_seed_templates")

NEW = {
    "reminder": {
        "en": "{lender}: {name}, payments overdue: {loans}. Pay at {pay_link} or call {help_phone}.",
        "zh-hans": "【{lender}】{name}您好，您的借款已逾期：{loans}。请通过 {pay_link} 还款，或致电 {help_phone}。",
    },
    "formal_notice": {
        "en": "{lender}: {name}, this is a formal notice that these amounts remain unpaid: {loans}. "
        "Please pay at {pay_link} or call {help_phone} to agree a plan.",
        "zh-hans": "【{lender}】{name}您好，正式通知：以下款项仍未还清：{loans}。请通过 {pay_link} "
        "还款，或致电 {help_phone} 协商还款计划。",
    },
}


def bodies(texts, purpose, language):
    """The seeded SMS, voice and e-mail bodies of ``texts`` (the same derivation as 0003)."""
    text = texts[purpose][language]
    spoken = text.replace(" at {pay_link}", " online").replace("请通过 {pay_link} ", "请")
    return {
        "sms": text + SEEDED.OPT_OUT[language],
        "voice": spoken + SEEDED.VOICE_SUFFIX[language],
        "email": text + SEEDED.OPT_OUT[language],
    }


def rewrite(apps, schema_editor, forward=True):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    old_texts, new_texts = (SEEDED.TEXTS, NEW) if forward else (NEW, SEEDED.TEXTS)
    for purpose in NEW:
        for language in NEW[purpose]:
            old, new = bodies(old_texts, purpose, language), bodies(new_texts, purpose, language)
            for channel in old:
                MessageTemplate.objects.filter(
                    purpose=purpose, channel=channel, language=language, body=old[channel]
                ).update(body=new[channel])


def back(apps, schema_editor):
    rewrite(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0006_collector_calls")]
    operations = [migrations.RunPython(rewrite, back)]
