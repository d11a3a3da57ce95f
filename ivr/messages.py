"""What the engine itself says, in each language we ship. Flows can add their own
prompts; these cover the moments every flow shares (escape, retry, callback)."""

from __future__ import annotations

from flows.phrases import language_of

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "connecting": "Connecting you to a person now.",
        "no_input": "Sorry, I didn't hear anything.",
        "no_match": "Sorry, I didn't get that.",
        "bad_digits": "Sorry, that number doesn't look right.",
        "callback_now": "We will call you back at {number} as soon as a person is free. "
        "You keep your place in line. Goodbye.",
        "callback_later": "No one is available right now. We will call you back at {number} "
        "when we open, {when}. Goodbye.",
        "transfer_failed": "Sorry, no one could answer.",
        "callback_number": "We will call you back at the number ending in {last}. To use another number, key it in now with its area code, then press pound. Otherwise just wait.",
        "bad_number": "That did not look like a phone number, so we will call the number you are calling from.",
        "voicemail": "Please leave a message after the tone, and we will call you back.",
    },
    "es": {
        "connecting": "Le comunicamos ahora con una persona.",
        "no_input": "Disculpe, no le escuché.",
        "no_match": "Disculpe, no le entendí.",
        "bad_digits": "Disculpe, ese número no parece correcto.",
        "callback_now": "Le llamaremos al {number} en cuanto una persona esté libre. "
        "Conserva su lugar en la fila. Adiós.",
        "callback_later": "No hay nadie disponible ahora. Le llamaremos al {number} "
        "cuando abramos, {when}. Adiós.",
        "transfer_failed": "Lo sentimos, nadie pudo contestar.",
        "callback_number": "Le llamaremos al número que termina en {last}. Para usar otro, márquelo ahora con su prefijo y pulse almohadilla. Si no, espere.",
        "bad_number": "Ese número no parece válido; le llamaremos al número desde el que llama.",
        "voicemail": "Deje su mensaje después del tono y le devolveremos la llamada.",
    },
    "tr": {
        "connecting": "Sizi şimdi bir müşteri temsilcisine bağlıyoruz.",
        "no_input": "Üzgünüm, sizi duyamadım.",
        "no_match": "Üzgünüm, anlayamadım.",
        "bad_digits": "Üzgünüm, bu numara doğru görünmüyor.",
        "callback_now": "Bir temsilci müsait olur olmaz sizi {number} numarasından arayacağız. "
        "Sıranızı kaybetmezsiniz. İyi günler.",
        "callback_later": "Şu anda kimse müsait değil. Açıldığımızda, {when}, sizi {number} "
        "numarasından arayacağız. İyi günler.",
        "transfer_failed": "Üzgünüz, kimse cevap veremedi.",
        "callback_number": "Sizi sonu {last} ile biten numaradan arayacağız. Başka bir numara için şimdi alan koduyla tuşlayıp kare tuşuna basın. Aksi halde bekleyin.",
        "bad_number": "Bu bir telefon numarası gibi görünmüyor; aradığınız numarayı kullanacağız.",
        "voicemail": "Lütfen sinyal sesinden sonra mesajınızı bırakın, sizi geri arayacağız.",
    },
    "ar": {
        "connecting": "نقوم الآن بتحويلك إلى أحد الموظفين.",
        "no_input": "عذراً، لم أسمع شيئاً.",
        "no_match": "عذراً، لم أفهم ذلك.",
        "bad_digits": "عذراً، هذا الرقم غير صحيح.",
        "callback_now": "سنتصل بك على الرقم {number} فور توفر أحد الموظفين. "
        "ستحتفظ بدورك في الانتظار. مع السلامة.",
        "callback_later": "لا يوجد أحد متاح الآن. سنتصل بك على الرقم {number} "
        "عند افتتاحنا، {when}. مع السلامة.",
        "transfer_failed": "عذراً، لم يتمكن أحد من الرد.",
        "callback_number": "سنتصل بك على الرقم المنتهي بـ {last}. لاستخدام رقم آخر، أدخله الآن مع رمز المنطقة ثم اضغط المربع. وإلا فانتظر.",
        "bad_number": "لا يبدو هذا رقم هاتف، لذا سنتصل بالرقم الذي تتصل منه.",
        "voicemail": "يرجى ترك رسالتك بعد سماع الصافرة وسنعاود الاتصال بك.",
    },
}


def message(locale: str, key: str, **values: str) -> str:
    table = MESSAGES.get(language_of(locale), MESSAGES["en"])
    return table.get(key, MESSAGES["en"][key]).format(**values)
