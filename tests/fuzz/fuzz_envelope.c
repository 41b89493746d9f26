/* libFuzzer target: oss_envelope_decode() on arbitrary bytes (what anyone can
 * write to our Kafka topics). It must never crash, leak or read out of bounds;
 * what it accepts must survive an encode/decode round trip unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "core/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what) {
    fprintf(stderr, "fuzz_envelope: %s\n", what);
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    oss_event_t ev, back;
    oss_err_t err;
    uint8_t *buf = NULL;
    size_t len = 0;

    memset(&ev, 0, sizeof ev);
    memset(&back, 0, sizeof back);
    if (oss_envelope_decode(data, size, &ev, &err) != OSS_OK) {
        if (err.msg[0] == '\0')
            die("decode failed without a message");
        goto done;
    }
    if (oss_envelope_encode(&ev, &buf, &len, &err) != OSS_OK)
        goto done;
    if (oss_envelope_decode(buf, len, &back, &err) != OSS_OK)
        die("re-decoding our own encoding failed");
    if (strcmp(ev.event_id, back.event_id) != 0 ||
        strcmp(ev.stream_id, back.stream_id) != 0 ||
        strcmp(ev.stream_type, back.stream_type) != 0 ||
        ev.version != back.version || ev.payload_len != back.payload_len ||
        (ev.payload_len && memcmp(ev.payload, back.payload, ev.payload_len)) ||
        memcmp(ev.hash, back.hash, sizeof ev.hash) != 0 ||
        memcmp(ev.prev_hash, back.prev_hash, sizeof ev.prev_hash) != 0)
        die("round trip changed the event");
done:
    free(buf);
    oss_event_clear(&ev);
    oss_event_clear(&back);
    return 0;
}
