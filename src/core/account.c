/* The account aggregate: registration validation, evolve, decide. Pure. */
#include "core/account.h"

#include <stdio.h>
#include <string.h>

#include "core/nik.h"

static void
check(oss_field_errors_t *fe, const char *field, const char *reason) {
    if (reason)
        oss_field_errors_add(fe, field, reason);
}

oss_code_t
oss_registration_validate(const oss_registration_input_t *in, int today,
                          oss_registration_t *out, oss_field_errors_t *fe) {
    int y = 0, m = 0, d = 0;
    bool have_date = false;
    oss_nik_info_t ni;
    bool have_nik = false;

    memset(out, 0, sizeof *out);

    if (!oss_field_errors_get(fe, "scale"))
        check(fe, "scale", oss_scale_parse(in->scale, &out->scale));
    if (!oss_field_errors_get(fe, "actor_type")) {
        const char *r = oss_actor_type_check(in->actor_type);
        check(fe, "actor_type", r);
        if (!r)
            snprintf(out->actor_type, sizeof out->actor_type, "%s",
                     in->actor_type);
    }
    /* foreign directors (03, 04) may give a passport instead of a NIK */
    bool foreign = in->actor_type && (!strcmp(in->actor_type, "03") ||
                                      !strcmp(in->actor_type, "04"));
    bool has_nik = in->nik && *in->nik;
    bool has_passport = in->passport && *in->passport;
    if (foreign && (has_passport || !has_nik)) {
        if (!oss_field_errors_get(fe, "passport"))
            check(fe, "passport",
                  oss_passport_normalize(in->passport, out->passport,
                                         sizeof out->passport));
        if (!oss_field_errors_get(fe, "passport_country")) {
            const char *r = oss_country_check(in->passport_country);
            check(fe, "passport_country", r);
            if (!r)
                snprintf(out->passport_country, sizeof out->passport_country,
                         "%s", in->passport_country);
        }
    } else if (!foreign && (has_passport || in->passport_country)) {
        check(fe, has_passport ? "passport" : "passport_country",
              "not_for_actor_type");
    }
    if (!oss_field_errors_get(fe, "nik") && (has_nik || !foreign)) {
        const char *r =
            has_nik ? oss_nik_check(in->nik, &ni) : OSS_REASON_REQUIRED;
        check(fe, "nik", r);
        if (!r) {
            snprintf(out->nik, sizeof out->nik, "%s", in->nik);
            have_nik = true;
        }
    }
    if (!oss_field_errors_get(fe, "npwp") && in->npwp && *in->npwp)
        check(fe, "npwp",
              oss_npwp_normalize(in->npwp, out->npwp, sizeof out->npwp));
    if (!oss_field_errors_get(fe, "region_code")) {
        const char *r = oss_region_code_check(in->region_code);
        check(fe, "region_code", r);
        if (!r && in->region_code)
            snprintf(out->region_code, sizeof out->region_code, "%s",
                     in->region_code);
    }
    if (!oss_field_errors_get(fe, "name"))
        check(fe, "name",
              oss_name_normalize(in->name, out->name, sizeof out->name));
    if (!oss_field_errors_get(fe, "birth_date")) {
        const char *r =
            oss_birth_date_parse(in->birth_date, today, out->birth_date,
                                 sizeof out->birth_date, &y, &m, &d);
        check(fe, "birth_date", r);
        have_date = r == NULL;
    }
    if (!oss_field_errors_get(fe, "email"))
        check(fe, "email",
              oss_email_normalize(in->email, out->email, sizeof out->email));
    if (!oss_field_errors_get(fe, "phone"))
        check(fe, "phone",
              foreign ? oss_phone_normalize_intl(in->phone, out->phone,
                                                 sizeof out->phone)
                      : oss_phone_normalize(in->phone, out->phone,
                                            sizeof out->phone));
    if (!oss_field_errors_get(fe, "country")) {
        const char *c = in->country ? in->country : "ID";
        const char *r = oss_country_check(c);
        check(fe, "country", r);
        if (!r)
            snprintf(out->country, sizeof out->country, "%s", c);
    }
    if (!oss_field_errors_get(fe, "website")) {
        const char *r = oss_website_check(in->website);
        check(fe, "website", r);
        if (!r && in->website)
            snprintf(out->website, sizeof out->website, "%s", in->website);
    }
    if (!oss_field_errors_get(fe, "terms_version")) {
        const char *r = oss_terms_version_check(in->terms_version);
        check(fe, "terms_version", r);
        if (!r)
            snprintf(out->terms_version, sizeof out->terms_version, "%s",
                     in->terms_version);
    }
    if (have_nik && have_date)
        out->nik_birth_date_mismatch =
            !oss_nik_matches_birth_date(&ni, y, m, d);
    return fe->n ? OSS_EINVAL : OSS_OK;
}

bool
oss_registration_business_identity(const oss_registration_t *r,
                                   const char **field, char *value,
                                   size_t valuesz) {
    bool individual = strcmp(r->actor_type, "02") == 0;

    if (individual && r->nik[0]) {
        /* the person is the business */
        *field = "nik";
        snprintf(value, valuesz, "%s", r->nik);
    } else if (!individual && r->npwp[0]) {
        *field = "npwp";
        snprintf(value, valuesz, "%s", r->npwp);
    } else if (!individual && r->email[0]) {
        /* no NPWP yet: the company e-mail, until the business's own
         * identity (its profile's NPWP, its NIB) arrives; never the
         * responsible person's NIK, who may run several companies */
        *field = "email";
        snprintf(value, valuesz, "%s", r->email);
    } else {
        return false;
    }
    return true;
}

void
oss_account_state_init(oss_account_state_t *st) {
    memset(st, 0, sizeof *st);
}

void
oss_account_evolve(oss_account_state_t *st, const oss_event_t *ev) {
    if (strcmp(ev->payload_type, OSS_ACCOUNT_REGISTERED) == 0) {
        st->exists = true;
        snprintf(st->status, sizeof st->status, "registered");
    }
    st->version = ev->version;
}

void
oss_account_fold(oss_account_state_t *st, const oss_event_t *history,
                 size_t n) {
    oss_account_state_init(st);
    for (size_t i = 0; i < n; i++)
        oss_account_evolve(st, &history[i]);
}

oss_code_t
oss_account_decide_register(const oss_account_state_t *st,
                            int64_t expected_version, oss_err_t *err) {
    if (st->exists || st->version > 0)
        return oss_err_set(err, OSS_EDUPLICATE,
                           "could not register account: the account already "
                           "exists");
    if (expected_version >= 0 && expected_version != st->version)
        return oss_err_set(err, OSS_ECONFLICT,
                           "could not register account: expected version "
                           "%lld, stream is at %lld",
                           (long long)expected_version, (long long)st->version);
    return OSS_OK;
}
