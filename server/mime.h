/* Content types by file extension: /etc/mime.types when present, else a built-in table. */
#ifndef WSD_MIME_H
#define WSD_MIME_H

/* Load a mime.types file (NULL = the built-in table only). Returns entries loaded or -1. */
int mime_init(const char *path);
/* The type for a file name, "application/octet-stream" when unknown. Never NULL. */
const char *mime_lookup(const char *filename);
void mime_free(void);

#endif
