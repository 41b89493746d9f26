/* Reading a decoded protobuf message's fields by name, through its
 * protobuf-c descriptor: for code that handles event types it was not
 * written against (the audit tool's generic history lines, the projector's
 * appliers). All results are borrowed from m; m may be NULL. Thread-safe. */
#ifndef OSS_BUS_PBFIELD_H
#define OSS_BUS_PBFIELD_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* The descriptor of field name, or NULL (no such field, or m NULL). */
const ProtobufCFieldDescriptor *oss_pb_field(const ProtobufCMessage *m,
                                             const char *name);
/* A singular string field; "" when absent, unset or not a string. */
const char *oss_pb_str(const ProtobufCMessage *m, const char *name);
/* A singular integer, enum or bool field; 0 when absent or another type. */
int64_t oss_pb_int(const ProtobufCMessage *m, const char *name);
/* A singular sub-message field; NULL when absent or unset. */
const ProtobufCMessage *oss_pb_msg(const ProtobufCMessage *m, const char *name);

#endif
