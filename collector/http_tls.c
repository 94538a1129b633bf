/* collector/http_tls.c - TLS for the HTTP server: OpenSSL 3 over memory BIOs on the libuv stream. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>

#include "collector/http_conn.h"
#include "common/log.h"

#define TLS_PLAIN_CHUNK 16384

static void
ssl_reason(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s %s: %s", what, path != NULL ? path : "", e ? buf : "failed");
	ERR_clear_error();
}

/* We speak HTTP/1.1 only: pick it when the client offers ALPN. */
static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
	    unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *
http_tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_reason(err, errlen, "TLS context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_reason(err, errlen, "TLS certificate", cert);
		goto fail;
	}
	/* A key others can read is no secret: refuse it, as the agent refuses its
	 * token file. Group access stays allowed (keys in /etc/ssl/private are
	 * root:ssl-cert 0640). */
	struct stat sb;
	if (stat(key, &sb) == 0 && (sb.st_mode & (S_IROTH | S_IWOTH))) {
		snprintf(err, errlen, "TLS key %s is accessible by others (mode %03o): chmod o-rwx it",
			 key, (unsigned)(sb.st_mode & 0777));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_reason(err, errlen, "TLS key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_reason(err, errlen, "TLS key does not match certificate", key);
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
http_tls_conn_init(struct http_conn *c, SSL_CTX *ctx)
{
	if ((c->ssl = SSL_new(ctx)) == NULL)
		return -ENOMEM;
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->rbio == NULL || c->wbio == NULL) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -ENOMEM;
	}
	/* An empty memory BIO means "try again later", not end of file. */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the SSL owns both */
	SSL_set_accept_state(c->ssl);
	return 0;
}

int
http_tls_flush(struct http_conn *c)
{
	size_t pending;
	char *mem;
	int n;

	while (!c->closing && (pending = BIO_ctrl_pending(c->wbio)) > 0) {
		if (pending > INT_MAX)
			pending = INT_MAX;
		if ((mem = malloc(pending)) == NULL)
			return -ENOMEM;
		if ((n = BIO_read(c->wbio, mem, (int)pending)) <= 0) {
			free(mem);
			return -EIO;
		}
		if (http_conn_write_raw(c, mem, (size_t)n) < 0)
			return -EPIPE;
	}
	return 0;
}

int
http_tls_pump(struct http_conn *c)
{
	char buf[TLS_PLAIN_CHUNK];
	int n, rc = 0;

	while (!c->paused && !c->closing && !c->no_more) {
		n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n > 0) {
			if ((rc = http_parse_input(c, buf, (size_t)n)) < 0)
				break;
			continue;
		}
		switch (SSL_get_error(c->ssl, n)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			break;
		case SSL_ERROR_ZERO_RETURN:
			rc = -ECONNRESET; /* close_notify: the client is done */
			break;
		default:
			log_debug("http: %s: TLS: %s", c->peer,
				  ERR_reason_error_string(ERR_peek_error()) ?
					  ERR_reason_error_string(ERR_peek_error()) : "error");
			ERR_clear_error();
			rc = -EPROTO;
			break;
		}
		break;
	}
	if (!c->closing && http_tls_flush(c) < 0 && rc == 0)
		rc = -EPIPE;
	return rc;
}

int
http_tls_input(struct http_conn *c, const char *data, size_t len)
{
	/* The read BIO holds at most what we could not decrypt yet: pump()
	 * drains it unless parsing is paused, and reading stops then. */
	if (BIO_write(c->rbio, data, (int)len) != (int)len)
		return -ENOMEM;
	return http_tls_pump(c);
}

int
http_tls_send(struct http_conn *c, const char *data, size_t len)
{
	size_t off = 0;
	int n, chunk;

	while (off < len) {
		chunk = len - off > INT_MAX ? INT_MAX : (int)(len - off);
		n = SSL_write(c->ssl, data + off, chunk);
		if (n <= 0) {
			log_debug("http: %s: TLS write failed", c->peer);
			ERR_clear_error();
			return -EPROTO;
		}
		off += (size_t)n;
	}
	return http_tls_flush(c);
}

void
http_tls_shutdown(struct http_conn *c)
{
	if (SSL_is_init_finished(c->ssl))
		(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
	(void)http_tls_flush(c);
}
