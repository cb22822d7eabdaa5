/* Doubly linked list whose nodes own their values through a free
 * callback; used for the server's connection list, where a connection
 * keeps its own node for O(1) removal. */
#ifndef LIST_H
#define LIST_H

typedef struct listNode {
    struct listNode *prev;
    struct listNode *next;
    void *value;
} listNode;

typedef struct list {
    listNode *head;
    listNode *tail;
    void (*free)(void *ptr);
    unsigned long len;
} list;

#define listLength(l) ((l)->len)
#define listFirst(l) ((l)->head)
#define listNextNode(n) ((n)->next)
#define listNodeValue(n) ((n)->value)
#define listSetFreeMethod(l, m) ((l)->free = (m))

list *listCreate(void);
void listRelease(list *list);
listNode *listAddNodeTail(list *list, void *value);
void listDelNode(list *list, listNode *node);

#endif
