/* Message templates per kind, in Indonesian and English: what happened, when
 * (WIB in Indonesian, UTC in English) and what to do next. Pure: no I/O, no
 * logging (the variables may hold a secret or personal data). */
#include "notifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/utc.h"

typedef struct tpl {
    const char *kind;
    const char *vars[8]; /* the variables the texts use (NULL-ended) */
    const char *subject_id, *subject_en;
    const char *greet_id, *greet_en; /* when no name is given */
    const char *text_id, *text_en;
} tpl_t;

/* The help desk of the OSS terms of use (../shared/DOMAIN.md, "Help
 * desk"): named in every message, so a reader knows whom to reach when
 * something is wrong. */
#define HELPDESK_ID                                                            \
    "\nLayanan bantuan OSS: helpdesk.oss@insw.go.id atau kontak@oss.go.id; "   \
    "telepon\n(+6221) 3857596, 3857595, 21201020, 21202020; call centre 169; " \
    "atau kantor\nDPMPTSP di daerah Anda.\n"
#define HELPDESK_EN                                                            \
    "\nOSS help desk: helpdesk.oss@insw.go.id or kontak@oss.go.id; call-in\n"  \
    "(+6221) 3857596, 3857595, 21201020, 21202020; call centre 169; or your\n" \
    "regional DPMPTSP office.\n"
#define SIGN_ID                                                                \
    "\nHormat kami,\nLembaga OSS\n" HELPDESK_ID                                \
    "\n(Pesan ini dikirim otomatis; mohon tidak membalas.)\n"
#define SIGN_EN                                                                \
    "\nRegards,\nOSS Agency\n" HELPDESK_EN                                     \
    "\n(This message was sent automatically; please do not reply.)\n"

static const tpl_t templates[] = {
    {"registration",
     {"name", "account_id", NULL},
     "Pendaftaran akun OSS berhasil",
     "OSS account registered",
     "Pelaku Usaha",
     "business owner",
     "Yth. {{name}},\n\n"
     "Terima kasih telah mendaftar di OSS (Online Single Submission).\n"
     "Akun Anda telah tercatat dengan nomor akun {{account_id}}.\n\n"
     "Langkah berikutnya: aktifkan akun Anda melalui tautan atau kode OTP "
     "yang\nakan kami kirimkan, lalu lengkapi data usaha Anda untuk "
     "memperoleh NIB.\n\n"
     "Jika Anda tidak merasa mendaftar, abaikan surel ini.\n\n"
     "Hormat kami,\nLembaga OSS\n" HELPDESK_ID
     "\n(Surel ini dikirim otomatis; mohon tidak membalas.)\n",
     "Dear {{name}},\n\n"
     "Thank you for registering with OSS (Online Single Submission).\n"
     "Your account has been recorded with account number {{account_id}}.\n\n"
     "Next step: activate your account with the link or OTP we will send "
     "you,\nthen complete your business data to obtain an NIB.\n\n"
     "If you did not register, please ignore this e-mail.\n\n"
     "Regards,\nOSS Agency\n" HELPDESK_EN
     "\n(This e-mail was sent automatically; please do not reply.)\n"},
    {"activation",
     {"name", "account_id", "otp", "link", "expires", NULL},
     "Kode aktivasi akun OSS",
     "OSS account activation code",
     "Pelaku Usaha",
     "business owner",
     "Yth. {{name}},\n\n"
     "Pada {{when}} kami menerbitkan kode aktivasi untuk akun OSS Anda "
     "(nomor akun {{account_id}}).\n\n"
     "Kode OTP Anda: {{otp}}\n\n"
     "Atau buka tautan aktivasi berikut:\n{{link}}\n\n"
     "Kode dan tautan ini hanya berlaku satu kali dan kedaluwarsa pada "
     "{{expires}}.\nLangkah berikutnya: masukkan kode OTP di halaman "
     "aktivasi atau buka tautan\ndi atas, lalu buat kata sandi Anda. Jika "
     "kode kedaluwarsa, minta kode baru.\n\n"
     "Jangan berikan kode ini kepada siapa pun, termasuk petugas OSS.\n"
     "Jika Anda tidak merasa mendaftar, abaikan pesan ini.\n\n"
     "Hormat kami,\nLembaga OSS\n" HELPDESK_ID,
     "Dear {{name}},\n\n"
     "On {{when}} we issued an activation code for your OSS account "
     "(account number {{account_id}}).\n\n"
     "Your OTP code: {{otp}}\n\n"
     "Or open this activation link:\n{{link}}\n\n"
     "The code and the link work once and expire at {{expires}}.\n"
     "Next step: enter the OTP on the activation page or open the link "
     "above,\nthen set your password. If the code has expired, ask for a "
     "new one.\n\n"
     "Never give this code to anyone, OSS staff included.\n"
     "If you did not register, please ignore this message.\n\n"
     "Regards,\nOSS Agency\n" HELPDESK_EN},
    {"access_restricted",
     {"name", "account_id", "reason", NULL},
     "Akses akun OSS Anda dibatasi",
     "Access to your OSS account is restricted",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} Lembaga OSS membatasi akses ke akun OSS {{account_id}}.\n"
     "Alasan: {{reason}}\n\n"
     "Selama pembatasan berlaku, Anda tidak dapat masuk ke akun ini atau "
     "melakukan\ntindakan apa pun padanya; sesi yang aktif telah diakhiri. "
     "Kata sandi dan hak\nakses Anda tetap tersimpan dan berlaku lagi saat "
     "pembatasan dicabut.\n\n"
     "Langkah berikutnya: hubungi layanan bantuan OSS (di bawah) dengan "
     "menyebut\nnomor akun di atas untuk mengetahui cara mencabut "
     "pembatasan.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} the OSS authority restricted access to the OSS account "
     "{{account_id}}.\nReason: {{reason}}\n\n"
     "While the restriction holds you cannot sign in to this account or act "
     "on it;\nopen sessions were ended. Your password and access rights are "
     "kept and work\nagain once the restriction is lifted.\n\n"
     "Next step: contact the OSS help desk (below) quoting the account number "
     "above\nto learn how the restriction can be lifted.\n" SIGN_EN},
    {"access_restriction_lifted",
     {"name", "account_id", "reason", NULL},
     "Pembatasan akses akun OSS Anda dicabut",
     "The restriction on your OSS account was lifted",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} Lembaga OSS mencabut pembatasan akses akun OSS "
     "{{account_id}}.\nAlasan: {{reason}}\n\n"
     "Langkah berikutnya: masuk kembali ke OSS dengan kata sandi Anda. Jika "
     "Anda\nmengalami kendala, hubungi layanan bantuan OSS (di "
     "bawah).\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} the OSS authority lifted the restriction on the OSS account "
     "{{account_id}}.\nReason: {{reason}}\n\n"
     "Next step: sign in to OSS again with your password. If anything does "
     "not work,\ncontact the OSS help desk (below).\n" SIGN_EN},
    {"account_activated",
     {"name", "username", "email", NULL},
     "Akun OSS Anda sudah aktif: data login",
     "Your OSS account is active: login data",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} akun OSS Anda telah diaktifkan. Data login akun Anda:\n"
     "  Nama pengguna (username): {{username}}\n"
     "  E-mail login: {{email}}\n\n"
     "Langkah berikutnya: buat kata sandi lalu masuk ke OSS dengan nama "
     "pengguna\natau e-mail di atas. Simpan pesan ini; petugas OSS tidak "
     "pernah menanyakan\nkata sandi Anda. Jika Anda tidak mengaktifkan akun "
     "ini, hubungi layanan\nbantuan OSS (di bawah).\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} your OSS account was activated. Your login data:\n"
     "  Username: {{username}}\n"
     "  Login e-mail: {{email}}\n\n"
     "Next step: set a password, then sign in to OSS with the username or "
     "e-mail\nabove. Keep this message; OSS staff never ask for your "
     "password. If you did\nnot activate this account, contact the OSS help "
     "desk (below).\n" SIGN_EN},
    {"password_reset",
     {"name", "link", "expires", NULL},
     "Atur ulang kata sandi akun OSS",
     "OSS password reset",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} kami menerima permintaan untuk mengatur ulang kata sandi "
     "akun OSS Anda.\n\n"
     "Buka tautan berikut untuk membuat kata sandi baru:\n{{link}}\n\n"
     "Tautan ini hanya berlaku satu kali dan kedaluwarsa pada {{expires}}.\n"
     "Setelah kata sandi diganti, semua sesi yang sedang aktif diakhiri.\n\n"
     "Langkah berikutnya: buka tautan di atas dan buat kata sandi baru. Jika "
     "Anda\ntidak meminta pengaturan ulang, abaikan pesan ini: kata sandi "
     "Anda tidak berubah.\n"
     "Jangan berikan tautan ini kepada siapa pun, termasuk petugas "
     "OSS.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} we received a request to reset the password of your OSS "
     "account.\n\n"
     "Open this link to set a new password:\n{{link}}\n\n"
     "The link works once and expires at {{expires}}.\n"
     "Once the password is changed, every open session is ended.\n\n"
     "Next step: open the link above and choose a new password. If you did "
     "not ask\nfor a reset, ignore this message: your password stays as it "
     "is.\n"
     "Never give this link to anyone, OSS staff included.\n" SIGN_EN},
    {"handover_filed",
     {"name", "account_id", "request_id", "evidence_ref", "cooling_off_until",
      NULL},
     "Permohonan pengalihan hak akses akun OSS",
     "Request to hand over your OSS account",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} diajukan permohonan tertulis untuk mengalihkan hak akses "
     "akun OSS\n{{account_id}} kepada orang lain (nomor permohonan "
     "{{request_id}}, bukti: {{evidence_ref}}).\n\n"
     "Permohonan ini tidak dapat disetujui sebelum {{cooling_off_until}}.\n\n"
     "Langkah berikutnya: jika Anda tidak menyetujui pengalihan ini, ajukan "
     "keberatan\nsebelum waktu tersebut melalui akun Anda (menu Hak Akses) "
     "atau hubungi layanan bantuan OSS (di bawah).\nJika Anda menyetujuinya, "
     "Anda tidak perlu "
     "melakukan apa pun.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} a written request was filed to hand over access to the OSS "
     "account\n{{account_id}} to another person (request {{request_id}}, "
     "evidence: {{evidence_ref}}).\n\n"
     "The request cannot be approved before {{cooling_off_until}}.\n\n"
     "Next step: if you do not agree with this hand-over, file an objection "
     "before\nthat time from your account (Access rights) or contact the OSS "
     "help desk (below).\nIf you agree, you need not do anything.\n" SIGN_EN},
    {"handover_decided",
     {"name", "account_id", "decision", "reason", NULL},
     "Keputusan atas permohonan pengalihan hak akses akun OSS",
     "Decision on the hand-over of your OSS account",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} permohonan pengalihan hak akses akun OSS {{account_id}} "
     "telah\n{{decision}}. Alasan: {{reason}}.\n\n"
     "Langkah berikutnya: jika permohonan disetujui, pemilik baru menerima "
     "pesan\naktivasi tersendiri dan pemilik lama tidak dapat lagi masuk. "
     "Jika Anda keberatan\natas keputusan ini, hubungi layanan bantuan OSS (di "
     "bawah) dengan "
     "menyebut nomor akun di atas.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} the request to hand over access to the OSS account "
     "{{account_id}}\nwas {{decision}}. Reason: {{reason}}.\n\n"
     "Next step: if the request was approved, the new owner receives a "
     "separate\nactivation message and the former owner can no longer sign "
     "in. If you disagree\nwith this decision, contact the OSS help desk "
     "(below) "
     "quoting the account number above.\n" SIGN_EN},
    {"access_terminated",
     {"name", "account_id", "reason_code", NULL},
     "Hak akses akun OSS Anda diakhiri",
     "Your access to an OSS account has ended",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} hak akses Anda atas akun OSS {{account_id}} diakhiri.\n"
     "Alasan: {{reason_code}}.\n\n"
     "Semua sesi Anda pada akun ini telah diakhiri dan Anda tidak dapat lagi "
     "masuk.\n\n"
     "Langkah berikutnya: jika Anda merasa ini keliru, hubungi layanan bantuan "
     "OSS (di bawah) "
     "dengan\nmenyebut nomor akun di atas.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} your access to the OSS account {{account_id}} was ended.\n"
     "Reason: {{reason_code}}.\n\n"
     "Every session of yours on this account has been ended and you can no "
     "longer\nsign in.\n\n"
     "Next step: if you believe this is a mistake, contact the OSS help desk "
     "(below) "
     "quoting\nthe account number above.\n" SIGN_EN},
    {"signin_throttled",
     {"name", "when", NULL},
     "Percobaan masuk yang gagal pada akun OSS Anda",
     "Failed sign-in attempts on your OSS account",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} terjadi beberapa percobaan masuk yang gagal ke akun OSS "
     "Anda,\nsehingga percobaan berikutnya kami perlambat untuk sementara.\n\n"
     "Langkah berikutnya: jika itu Anda, tunggu sebentar lalu coba lagi, "
     "atau atur\nulang kata sandi Anda. Jika bukan Anda, segera ganti kata "
     "sandi dan periksa\ndaftar sesi aktif di akun Anda.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} there were several failed attempts to sign in to your OSS "
     "account,\nso further attempts are slowed down for a while.\n\n"
     "Next step: if it was you, wait a moment and try again, or reset your "
     "password.\nIf it was not you, change your password at once and check "
     "the list of open\nsessions in your account.\n" SIGN_EN},
    {"member_added",
     {"name", "account_id", "role", NULL},
     "Anda ditambahkan pada akun OSS",
     "You were added to an OSS account",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} Anda ditambahkan sebagai {{role}} pada akun OSS "
     "{{account_id}}.\n\n"
     "Langkah berikutnya: jika Anda belum memiliki akses OSS, aktifkan akses "
     "Anda\ndengan kode yang kami kirim dalam pesan terpisah, lalu buat kata "
     "sandi. Jika Anda\ntidak mengenal akun ini, hubungi layanan "
     "bantuan OSS (di bawah).\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} you were added as {{role}} to the OSS account "
     "{{account_id}}.\n\n"
     "Next step: if you have no OSS access yet, activate it with the code we "
     "send in a\nseparate message, then set your password. If you do not "
     "know this account,\ncontact the OSS help desk (below).\n" SIGN_EN},
    {"transfer_offered",
     {"name", "account_id", NULL},
     "Tawaran pengalihan kepemilikan akun OSS",
     "Offer to take over an OSS account",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} pemilik akun OSS {{account_id}} menawarkan kepemilikan "
     "akun\ntersebut kepada Anda.\n\n"
     "Langkah berikutnya: masuk ke OSS dan konfirmasi penerimaan pengalihan "
     "(menu Hak\nAkses). Sampai Anda mengonfirmasi, pemilik saat ini tetap "
     "bertanggung jawab. Jika\nAnda tidak mengharapkan tawaran ini, abaikan "
     "pesan ini.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} the owner of the OSS account {{account_id}} offered you "
     "ownership\nof that account.\n\n"
     "Next step: sign in to OSS and confirm that you accept the transfer "
     "(Access\nrights). Until you confirm, the current owner stays "
     "responsible. If you did not\nexpect this offer, ignore this "
     "message.\n" SIGN_EN},
    {"help_decided",
     {"name", "decision", NULL},
     "Keputusan atas permohonan bantuan akun OSS",
     "Decision on your OSS help request",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} permohonan bantuan Anda untuk mengganti alamat surel akun "
     "OSS\ntelah {{decision}} oleh petugas.\n\n"
     "Langkah berikutnya: jika disetujui, pesan berikutnya dikirim ke alamat "
     "surel\nyang baru; gunakan fitur lupa kata sandi bila perlu. Jika "
     "ditolak, Anda dapat\nmengajukan permohonan baru dengan bukti yang "
     "lengkap.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} your help request to replace the e-mail address of your "
     "OSS account\nwas {{decision}} by an officer.\n\n"
     "Next step: if it was approved, further messages go to the new address; "
     "use\n\"forgot password\" if you need to. If it was rejected, you may "
     "file a new\nrequest with complete evidence.\n" SIGN_EN},
    {"officer_created",
     {"name", "institution", NULL},
     "Akun petugas OSS Anda telah dibuat",
     "Your OSS officer account was created",
     "Bapak/Ibu",
     "Sir or Madam",
     "Yth. {{name}},\n\n"
     "Pada {{when}} akun petugas OSS dibuat untuk Anda pada instansi "
     "{{institution}}.\n\n"
     "Langkah berikutnya: aktifkan akun Anda dengan kode aktivasi yang kami "
     "kirim dalam\npesan terpisah, lalu buat kata sandi. Akun ini hanya "
     "untuk Anda sendiri; jika Anda\ntidak lagi berwenang, beri tahu "
     "administrator akses instansi Anda.\n" SIGN_ID,
     "Dear {{name}},\n\n"
     "On {{when}} an OSS officer account was created for you in the "
     "institution\n{{institution}}.\n\n"
     "Next step: activate your account with the activation code we send in "
     "a separate\nmessage, then set your password. The account is for you "
     "alone; if you are no\nlonger authorised, tell your institution's "
     "access administrator.\n" SIGN_EN},
};

#define NTEMPLATES (sizeof templates / sizeof templates[0])

static const tpl_t *
find(const char *kind) {
    for (size_t i = 0; kind && i < NTEMPLATES; i++)
        if (!strcmp(templates[i].kind, kind))
            return &templates[i];
    return NULL;
}

const char *
oss_template_kind_at(size_t i) {
    return i < NTEMPLATES ? templates[i].kind : NULL;
}

const char *const *
oss_template_vars(const char *kind) {
    const tpl_t *t = find(kind);
    return t ? t->vars : NULL;
}

/* Coded values said in words per language. */
static const struct {
    const char *var, *value, *id, *en;
} words[] = {
    {"decision", "approve", "disetujui", "approved"},
    {"decision", "approved", "disetujui", "approved"},
    {"decision", "reject", "ditolak", "rejected"},
    {"decision", "rejected", "ditolak", "rejected"},
    {"role", "owner", "pemilik", "owner"},
    {"role", "preparer", "penyusun", "preparer"},
    {"role", "viewer", "peninjau", "viewer"},
    {"role", "officer", "petugas", "officer"},
    {"role", "access_admin", "administrator akses", "access administrator"},
    {"role", "operator", "operator", "operator"},
    {"role", "auditor", "auditor", "auditor"},
    {"reason_code", "responsible_person_changed",
     "penanggung jawab usaha berganti", "the responsible person changed"},
    {"reason_code", "misuse_request",
     "permintaan tertulis atas dugaan penyalahgunaan",
     "a written request over suspected misuse"},
    {"reason_code", "authority_finding", "temuan Lembaga OSS",
     "a finding of the OSS Agency"},
    {"reason_code", "law", "ketentuan peraturan perundang-undangan", "the law"},
};

/* Variables holding a point in time (unix microseconds or ISO 8601 UTC). */
static int
is_time_var(const char *v) {
    return !strcmp(v, "when") || !strcmp(v, "expires") ||
           !strcmp(v, "cooling_off_until");
}

void
oss_template_when(int64_t us, int wib, char *out, size_t cap) {
    static const char *const id_months[] = {
        "Januari", "Februari", "Maret",     "April",   "Mei",      "Juni",
        "Juli",    "Agustus",  "September", "Oktober", "November", "Desember"};
    static const char *const en_months[] = {
        "January", "February", "March",     "April",   "May",      "June",
        "July",    "August",   "September", "October", "November", "December"};
    time_t t = (time_t)(us / 1000000) + (wib ? 7 * 3600 : 0);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%d %s %d %02d:%02d %s", tm.tm_mday,
             (wib ? id_months : en_months)[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, wib ? "WIB" : "UTC");
}

/* Puts a value, control characters (a value never spans lines) and
 * "{{" (no second expansion) made harmless. */
static void
put_value(oss_buf_t *b, const char *v) {
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char ch = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        if (ch == '{' && p[1] == '{')
            ch = '(';
        oss_buf_appendc(b, ch);
    }
}

/* The text of variable name (lang id when wib) into b: a coded value in
 * words, a time formatted, a number as digits, a string as is. 0, or -1
 * when vars has no usable value (nothing put). */
static int
put_var(oss_buf_t *b, const tpl_t *t, const char *name, const json_t *vars,
        int64_t when_us, int wib) {
    char tmp[96];
    const json_t *v = vars ? json_object_get(vars, name) : NULL;
    if (!strcmp(name, "when") && (!v || json_is_null(v))) {
        oss_template_when(when_us, wib, tmp, sizeof tmp);
        oss_buf_appends(b, tmp);
        return 0;
    }
    if (!strcmp(name, "name") &&
        (!v || !json_is_string(v) || json_string_length(v) == 0)) {
        const char *g = wib ? t->greet_id : t->greet_en;
        oss_buf_appends(b, g);
        return 0;
    }
    if (!v || json_is_null(v))
        return -1;
    if (json_is_integer(v)) {
        if (is_time_var(name)) {
            oss_template_when((int64_t)json_integer_value(v), wib, tmp,
                              sizeof tmp);
        } else {
            snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        }
        oss_buf_appends(b, tmp);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return -1;
    const char *s = json_string_value(v);
    if (is_time_var(name)) {
        int64_t us = 0;
        if (oss_utc_parse(s, &us, NULL) == OSS_OK) {
            oss_template_when(us, wib, tmp, sizeof tmp);
            oss_buf_appends(b, tmp);
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(words[i].var, name) && !strcmp(words[i].value, s)) {
            const char *w = wib ? words[i].id : words[i].en;
            oss_buf_appends(b, w);
            return 0;
        }
    put_value(b, s);
    return 0;
}

/* Expands src into b; the first variable with no value is named in
 * missing (and rendered "-"). */
static void
expand(oss_buf_t *b, const tpl_t *t, const char *src, const json_t *vars,
       int64_t when_us, int wib, char *missing, size_t mcap) {
    const char *p = src;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            oss_buf_appends(b, p);
            break;
        }
        oss_buf_append(b, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close) { /* a template bug: keep the rest verbatim */
            oss_buf_appends(b, open);
            break;
        }
        char name[48];
        size_t nl = (size_t)(close - open - 2);
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        memcpy(name, open + 2, nl);
        name[nl] = '\0';
        if (put_var(b, t, name, vars, when_us, wib)) {
            oss_buf_append(b, "-", 1);
            if (missing && mcap && !missing[0])
                snprintf(missing, mcap, "%s", name);
        }
        p = close + 2;
    }
}

oss_code_t
oss_template_render(const char *kind, const char *lang, const json_t *vars,
                    int64_t when_us, char **subject, char **body, char *missing,
                    size_t missing_cap, oss_err_t *err) {
    *subject = *body = NULL;
    if (missing && missing_cap)
        missing[0] = '\0';
    const tpl_t *t = find(kind);
    if (!t)
        return oss_err_set(err, OSS_ENOTFOUND, "no template for kind \"%.48s\"",
                           kind ? kind : "");
    int wib = !lang || strcmp(lang, "en") != 0;
    /* a secret buffer: the body may hold a code or a link, and no copy of
     * it is left behind when the buffer grows or fails */
    oss_buf_t b;
    oss_buf_init_secret(&b);
    expand(&b, t, wib ? t->text_id : t->text_en, vars, when_us, wib, missing,
           missing_cap);
    if (!oss_buf_ok(&b)) {
        oss_buf_free(&b);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    char *s = strdup(wib ? t->subject_id : t->subject_en);
    if (!s) {
        oss_buf_free(&b);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    if (!(*body = oss_buf_detach(&b, NULL))) {
        free(s);
        return oss_err_set(err, OSS_ENOMEM, "out of memory");
    }
    *subject = s;
    return OSS_OK;
}
