/* Reading protobuf fields by name through their descriptors (pbfield.h). */
#include "bus/pbfield.h"

const ProtobufCFieldDescriptor *
oss_pb_field(const ProtobufCMessage *m, const char *name) {
    return m ? protobuf_c_message_descriptor_get_field_by_name(m->descriptor,
                                                               name)
             : NULL;
}

const char *
oss_pb_str(const ProtobufCMessage *m, const char *name) {
    const ProtobufCFieldDescriptor *f = oss_pb_field(m, name);
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED ||
        f->type != PROTOBUF_C_TYPE_STRING)
        return "";
    const char *v = *(char *const *)((const char *)m + f->offset);
    return v ? v : "";
}

int64_t
oss_pb_int(const ProtobufCMessage *m, const char *name) {
    const ProtobufCFieldDescriptor *f = oss_pb_field(m, name);
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    const char *p = (const char *)m + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int32_t *)p;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)p;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return *(const int64_t *)p;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return (int64_t) * (const uint64_t *)p;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p ? 1 : 0;
    default:
        return 0;
    }
}

const ProtobufCMessage *
oss_pb_msg(const ProtobufCMessage *m, const char *name) {
    const ProtobufCFieldDescriptor *f = oss_pb_field(m, name);
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED ||
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(ProtobufCMessage *const *)((const char *)m + f->offset);
}
