/* Schema evolution is additive only: every field and enum value of the
 * released descriptor set (schemas/descriptor.pb, committed) must still exist
 * in the .proto files under schemas/oss/v1 with the same number, type, label
 * and type name. Uses protoc (protobuf-compiler) to build the current set and
 * to decode both sets as text with google/protobuf/descriptor.proto
 * (libprotobuf-dev). The test also proves it can fail: a renumbered, a retyped
 * and a removed field in a scratch copy of the schemas must each be reported.
 *
 * After a release that ADDS fields, refresh the committed set with:
 *   protoc --include_imports --descriptor_set_out=schemas/descriptor.pb \
 *          -I schemas $(find schemas/oss -name '*.proto' | sort) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ITEMS 2048
#define MAX_DEPTH 32

/* One released element: key "oss.v1.Envelope.event_id" (fields) or
 * "enum oss.v1.ActorKind.ACTOR_KIND_OFFICER" (enum values); val its shape. */
typedef struct item {
    char key[1024];
    char val[512];
} item_t;

typedef struct schema {
    size_t n;
    item_t it[MAX_ITEMS];
} schema_t;

static char src_dir[1024];
static char tmp_dir[256];
static char descriptor_proto_dir[256];

static int
setup(void **state) {
    (void)state;
    const char *s = getenv("OSS_SOURCE_DIR");
    snprintf(src_dir, sizeof src_dir, "%s", s ? s : ".");
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/oss-test-schema-XXXXXX");
    if (!mkdtemp(tmp_dir))
        return -1;
    const char *cands[] = {"/usr/include", "/usr/local/include"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/google/protobuf/descriptor.proto", cands[i]);
        if (access(p, R_OK) == 0) {
            snprintf(descriptor_proto_dir, sizeof descriptor_proto_dir, "%s",
                     cands[i]);
            break;
        }
    }
    if (!descriptor_proto_dir[0]) {
        fprintf(stderr, "google/protobuf/descriptor.proto not found: install "
                        "libprotobuf-dev\n");
        return -1;
    }
    return 0;
}

static int
teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
trim(char *s) {
    char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    memmove(s, p, strlen(p) + 1);
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* value of `key: value` with surrounding quotes removed */
static const char *
unquote(char *v) {
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

static void
add_item(schema_t *s, const char *key, const char *val) {
    assert_true(s->n < MAX_ITEMS);
    snprintf(s->it[s->n].key, sizeof s->it[s->n].key, "%s", key);
    snprintf(s->it[s->n].val, sizeof s->it[s->n].val, "%s", val);
    s->n++;
}

/* Decodes a FileDescriptorSet file with protoc and collects its fields and
 * enum values. Returns 0, or -1 when protoc failed. */
static int
load_schema(const char *pb_path, schema_t *s) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "protoc --decode=google.protobuf.FileDescriptorSet -I '%s' "
             "google/protobuf/descriptor.proto < '%s'",
             descriptor_proto_dir, pb_path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    memset(s, 0, sizeof *s);

    /* block stack: keyword and, for message/enum/file blocks, a name */
    char kw[MAX_DEPTH][1024];
    char name[MAX_DEPTH][256];
    /* the field or enum value being read */
    char f_name[256] = "", f_number[32] = "", f_label[64] = "", f_type[64] = "",
         f_type_name[256] = "";
    int depth = 0;
    char line[1024];
    int bad = 0;

    while (fgets(line, sizeof line, p)) {
        trim(line);
        size_t n = strlen(line);
        if (n == 0)
            continue;
        if (line[n - 1] == '{') {
            if (depth == MAX_DEPTH) {
                bad = 1;
                break;
            }
            line[n - 1] = '\0';
            trim(line);
            snprintf(kw[depth], sizeof kw[depth], "%s", line);
            name[depth][0] = '\0';
            depth++;
            if (strcmp(line, "field") == 0 || strcmp(line, "value") == 0) {
                f_name[0] = f_number[0] = f_label[0] = f_type[0] = '\0';
                f_type_name[0] = '\0';
            }
            continue;
        }
        if (strcmp(line, "}") == 0) {
            if (depth == 0) {
                bad = 1;
                break;
            }
            depth--;
            const char *k = kw[depth];
            int parent_msg =
                depth > 0 && (strcmp(kw[depth - 1], "message_type") == 0 ||
                              strcmp(kw[depth - 1], "nested_type") == 0);
            int parent_enum =
                depth > 0 && strcmp(kw[depth - 1], "enum_type") == 0;
            if ((strcmp(k, "field") == 0 && parent_msg) ||
                (strcmp(k, "value") == 0 && parent_enum)) {
                /* qualified name: package, then each named message/enum */
                char q[512] = "";
                for (int d = 0; d < depth; d++) {
                    if (!name[d][0])
                        continue;
                    if (q[0])
                        strncat(q, ".", sizeof q - strlen(q) - 1);
                    strncat(q, name[d], sizeof q - strlen(q) - 1);
                }
                char key[1024], val[512];
                if (strcmp(k, "field") == 0) {
                    snprintf(key, sizeof key, "%s.%s", q, f_name);
                    snprintf(val, sizeof val,
                             "number=%s type=%s label=%s type_name=%s",
                             f_number, f_type, f_label, f_type_name);
                } else {
                    snprintf(key, sizeof key, "enum %s.%s", q, f_name);
                    snprintf(val, sizeof val, "number=%s", f_number);
                }
                add_item(s, key, val);
            }
            continue;
        }
        char *colon = strchr(line, ':');
        if (!colon || depth == 0)
            continue;
        *colon = '\0';
        char *key = line;
        char *v = colon + 1;
        trim(key);
        trim(v);
        const char *val = unquote(v);
        const char *k = kw[depth - 1];
        if (strcmp(k, "field") == 0 || strcmp(k, "value") == 0) {
            if (strcmp(key, "name") == 0)
                snprintf(f_name, sizeof f_name, "%s", val);
            else if (strcmp(key, "number") == 0)
                snprintf(f_number, sizeof f_number, "%s", val);
            else if (strcmp(key, "label") == 0)
                snprintf(f_label, sizeof f_label, "%s", val);
            else if (strcmp(key, "type") == 0)
                snprintf(f_type, sizeof f_type, "%s", val);
            else if (strcmp(key, "type_name") == 0)
                snprintf(f_type_name, sizeof f_type_name, "%s", val);
        } else if (strcmp(k, "file") == 0) {
            if (strcmp(key, "package") == 0)
                snprintf(name[depth - 1], sizeof name[depth - 1], "%s", val);
        } else if (strcmp(k, "message_type") == 0 ||
                   strcmp(k, "nested_type") == 0 ||
                   strcmp(k, "enum_type") == 0) {
            if (strcmp(key, "name") == 0)
                snprintf(name[depth - 1], sizeof name[depth - 1], "%s", val);
        }
    }
    int st = pclose(p);
    if (bad || depth != 0 || st != 0) {
        fprintf(stderr,
                "could not decode descriptor set \"%s\" (protoc status %d)\n",
                pb_path, st);
        return -1;
    }
    return 0;
}

/* Prints and counts every released element missing or changed in cur. */
static int
incompatibilities(const schema_t *released, const schema_t *cur,
                  const char *label) {
    int bad = 0;
    for (size_t i = 0; i < released->n; i++) {
        const item_t *r = &released->it[i];
        const item_t *c = NULL;
        for (size_t j = 0; j < cur->n && !c; j++)
            if (strcmp(cur->it[j].key, r->key) == 0)
                c = &cur->it[j];
        if (!c) {
            fprintf(stderr, "[%s] released %s (%s) was removed\n", label,
                    r->key, r->val);
            bad++;
        } else if (strcmp(c->val, r->val) != 0) {
            fprintf(stderr, "[%s] released %s changed: %s -> %s\n", label,
                    r->key, r->val, c->val);
            bad++;
        }
    }
    return bad;
}

static int
run(const char *cmd) {
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return st;
}

/* Builds a descriptor set from the .proto files under proto_root into out. */
static int
build_set(const char *proto_root, const char *out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "protoc --include_imports --descriptor_set_out='%s' -I '%s' "
             "'%s'/oss/v1/*.proto",
             out, proto_root, proto_root);
    return run(cmd);
}

static schema_t released, current, mutated;

static void
load_released(void) {
    char path[2048];
    snprintf(path, sizeof path, "%s/schemas/descriptor.pb", src_dir);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(load_schema(path, &released), 0);
    /* guard against a parser that finds nothing and so passes everything */
    int seen_field = 0, seen_enum = 0;
    for (size_t i = 0; i < released.n; i++) {
        if (strcmp(released.it[i].key, "oss.v1.Envelope.event_id") == 0) {
            assert_string_equal(
                released.it[i].val,
                "number=1 type=TYPE_STRING label=LABEL_OPTIONAL type_name=");
            seen_field = 1;
        }
        if (strcmp(released.it[i].key,
                   "enum oss.v1.ActorKind.ACTOR_KIND_OFFICER") == 0)
            seen_enum = 1;
    }
    assert_true(seen_field);
    assert_true(seen_enum);
    assert_true(released.n >= 20);
}

static void
test_current_schemas_are_compatible(void **state) {
    (void)state;
    load_released();
    char out[512], root[2048];
    snprintf(out, sizeof out, "%s/current.pb", tmp_dir);
    snprintf(root, sizeof root, "%s/schemas", src_dir);
    assert_int_equal(build_set(root, out), 0);
    assert_int_equal(load_schema(out, &current), 0);
    assert_int_equal(incompatibilities(&released, &current, "current"), 0);
}

/* Copies schemas/ to a scratch dir, replaces `from` by `to` in
 * oss/v1/<file>, builds the set and returns the incompatibility count. */
static int
mutate_and_compare(const char *file, const char *from, const char *to) {
    char cmd[4096], root[512], path[1024], out[1024];
    snprintf(root, sizeof root, "%s/mut", tmp_dir);
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s/oss/v1' && cp "
             "'%s'/schemas/oss/v1/*.proto '%s/oss/v1/'",
             root, root, src_dir, root);
    assert_int_equal(run(cmd), 0);

    snprintf(path, sizeof path, "%s/oss/v1/%s", root, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, from);
    if (!at)
        fail_msg("\"%s\" not found in %s: update this test's mutation", from,
                 file);
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);

    snprintf(out, sizeof out, "%s/mut.pb", tmp_dir);
    assert_int_equal(build_set(root, out), 0);
    assert_int_equal(load_schema(out, &mutated), 0);
    return incompatibilities(&released, &mutated, to);
}

static void
test_breaking_changes_are_caught(void **state) {
    (void)state;
    load_released();
    /* renumbered */
    assert_true(mutate_and_compare("envelope.proto", "string event_id = 1;",
                                   "string event_id = 99;") >= 1);
    /* retyped */
    assert_true(mutate_and_compare("envelope.proto",
                                   "uint64 stream_version = 4;",
                                   "int64 stream_version = 4;") >= 1);
    /* removed (number reserved, still a removal) */
    assert_true(mutate_and_compare("envelope.proto", "string reason = 12;",
                                   "reserved 12;") >= 1);
    /* label changed */
    assert_true(mutate_and_compare("envelope.proto", "string cause_id = 11;",
                                   "repeated string cause_id = 11;") >= 1);
    /* enum value renumbered */
    assert_true(mutate_and_compare("envelope.proto", "ACTOR_KIND_OPERATOR = 4;",
                                   "ACTOR_KIND_OPERATOR = 5;") >= 1);
    /* an added field is fine */
    assert_int_equal(
        mutate_and_compare("envelope.proto", "bytes hash = 18;",
                           "bytes hash = 18;\n  string added_later = 999;"),
        0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_current_schemas_are_compatible),
        cmocka_unit_test(test_breaking_changes_are_caught),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
