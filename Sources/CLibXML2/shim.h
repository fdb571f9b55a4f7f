// libxml2's HTML and XML parsers, for the article and feed importers (Debian: libxml2-dev).
#ifndef MARGIN_CLIBXML2_SHIM_H
#define MARGIN_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU, and its encoding.h then includes ICU's headers, which clash with the
// ICU module Foundation brings. Nothing here uses libxml2's ICU converters (only pointers to them).
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/// libxml2's `xmlFree` may be a macro (thread-local allocators), which Swift cannot call.
static inline void margin_xml_free(void *pointer) { xmlFree(pointer); }

/// Silences libxml2's generic error handler (it prints to stderr otherwise, even with NOERROR for some
/// structural errors).
static void margin_xml_ignore_error(void *context, const char *message, ...) { (void)context; (void)message; }
static inline void margin_xml_silence(void) { xmlSetGenericErrorFunc(NULL, margin_xml_ignore_error); }
#endif
