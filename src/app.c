/* app: a FastCGI worker's long-lived state. */
#include "app.h"
#include "audit.h"
#include "db.h"
#include "engine.h"
#include "rds.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int app_init(struct app *app, char *err, size_t errlen)
{
	char *fallback = NULL;
	int rc = -1;

	memset(app, 0, sizeof(*app));
	if (config_load(&app->cfg, CFG_NEED_DB | CFG_NEED_REDIS | CFG_NEED_PUBLIC_URL |
			CFG_NEED_TWILIO, err, errlen) < 0)
		goto out;
	app->db = db_open(app->cfg.database_url);
	app->rds = rds_open(app->cfg.redis_url);
	if (app->rds == NULL) {
		snprintf(err, errlen, "RINGFENCE_REDIS_URL is malformed: '%s'", app->cfg.redis_url);
		goto out;
	}
	if (app->cfg.audit_fallback)
		fallback = xstrdup(app->cfg.audit_fallback);
	else
		fallback = xasprintf("%s/var/log/audit-fallback.log", app->cfg.root);
	app->audit = audit_open(app->rds, fallback);
	audit_add_secret(app->cfg.auth_token);
	app->engine = engine_new(app->cfg.root, app->cfg.public_url, err, errlen);
	if (app->engine == NULL)
		goto out;
	rc = 0;
out:
	free(fallback);
	if (rc < 0)
		app_free(app);
	return rc;
}

void app_free(struct app *app)
{
	engine_free(app->engine);
	if (app->audit)
		audit_close(app->audit);
	if (app->rds)
		rds_close(app->rds);
	db_close(app->db);
	memset(app, 0, sizeof(*app));
}
