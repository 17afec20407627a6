// The offline page, in the reader's language (catalogs are kept by the service worker).
import { loadLanguage } from "/i18n.js";

loadLanguage();
