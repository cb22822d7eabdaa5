#ifndef KV_H
#define KV_H
struct kv;
struct kv *kv_new(void);
void kv_put(struct kv *kv, const char *key, const char *value);
const char *kv_get(const struct kv *kv, const char *key);
int kv_buckets(const struct kv *kv);
#endif
