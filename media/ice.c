/*
 * The ICE backend choice (see ice.h): mode names for the configuration and the constructor that
 * picks the backend.
 */
#include "media/ice.h"

#include <errno.h>
#include <string.h>

const char *ice_mode_name(enum ice_mode mode)
{
    return mode == ICE_MODE_FULL ? "full" : mode == ICE_MODE_LITE ? "lite" : "?";
}

int ice_mode_parse(const char *name, enum ice_mode *mode)
{
    if (!name || !mode)
        return EINVAL;
    if (!strcmp(name, "lite"))
        *mode = ICE_MODE_LITE;
    else if (!strcmp(name, "full"))
        *mode = ICE_MODE_FULL;
    else
        return EINVAL;
    return 0;
}

int ice_agent_alloc(struct ice_agent **ap, const struct ice_agent_cfg *cfg,
                    const struct ice_agent_handlers *h, void *arg)
{
    if (!ap || !cfg || !h)
        return EINVAL;
    switch (cfg->mode) {
    case ICE_MODE_LITE:
        return ice_lite_alloc(ap, cfg, h, arg);
    case ICE_MODE_FULL:
        return ice_nice_alloc(ap, cfg, h, arg);
    }
    return EINVAL;
}
