/* See list.h. */
#include "list.h"
#include "zmalloc.h"

list *listCreate(void) {
    list *l = zmalloc(sizeof(*l));
    l->head = l->tail = NULL;
    l->free = NULL;
    l->len = 0;
    return l;
}

void listRelease(list *l) {
    listNode *node = l->head;
    while (node) {
        listNode *next = node->next;
        if (l->free) l->free(node->value);
        zfree(node);
        node = next;
    }
    zfree(l);
}

listNode *listAddNodeTail(list *l, void *value) {
    listNode *node = zmalloc(sizeof(*node));
    node->value = value;
    node->next = NULL;
    node->prev = l->tail;
    if (l->tail)
        l->tail->next = node;
    else
        l->head = node;
    l->tail = node;
    l->len++;
    return node;
}

void listDelNode(list *l, listNode *node) {
    if (node->prev)
        node->prev->next = node->next;
    else
        l->head = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        l->tail = node->prev;
    if (l->free) l->free(node->value);
    zfree(node);
    l->len--;
}
