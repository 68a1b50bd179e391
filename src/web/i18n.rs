//! The language of Portero's pages: English or Spanish, from the browser's
//! `Accept-Language` unless the tenant fixes one (`language = "es"`).
//!
//! The English text is the key: page helpers ([`super::tenant_page`], the
//! sign-in and accounts pages) pass every fixed string through [`tr`], and
//! messages with values in them are built with [`trf`]. Every page helper
//! takes the language of the request it answers as an argument (the
//! verdict's, [`crate::gate::Seen::lang`]: the tenant's, else the browser's).

pub use crate::lang::Lang;

/// `en` in `lang` (itself when there is no translation).
pub fn tr(lang: Lang, en: &str) -> &str {
    match lang {
        Lang::En => en,
        Lang::Es => SPANISH
            .iter()
            .find(|(k, _)| *k == en)
            .map_or(en, |(_, es)| es),
    }
}

/// A template translated into `lang` with each `{}` replaced by the next
/// value.
pub fn trf(lang: Lang, template: &str, values: &[&str]) -> String {
    let mut out = String::new();
    let mut values = values.iter();
    let mut rest = tr(lang, template);
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        out.push_str(values.next().copied().unwrap_or(""));
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

/// English → Spanish.
const SPANISH: &[(&str, &str)] = &[
    ("Since", "Desde"),
    // The directory's database is down.
    ("Changes cannot be saved right now", "Los cambios no se pueden guardar ahora"),
    (
        "{} cannot reach its directory at the moment, so nothing was changed. You can keep working in your accounts. Please try again in a minute.",
        "{} no puede acceder a su directorio en este momento, así que no se ha cambiado nada. Puede seguir trabajando en sus cuentas. Inténtelo de nuevo en un minuto.",
    ),
    // Sign-in page.
    ("Sign in", "Iniciar sesión"),
    ("E-mail", "Correo electrónico"),
    ("Continue", "Continuar"),
    ("or sign in directly with", "o inicie sesión directamente con"),
    ("Enter a valid e-mail address.", "Escriba una dirección de correo válida."),
    ("Company sign-in", "Acceso corporativo"),
    ("SAML single sign-on", "Inicio de sesión único SAML"),
    ("OpenID Connect single sign-on", "Inicio de sesión único OpenID Connect"),
    ("Sign in again", "Volver a iniciar sesión"),
    ("Sign out", "Cerrar sesión"),
    ("Try again", "Intentar de nuevo"),
    ("Home", "Inicio"),
    // Accounts.
    ("Your accounts", "Sus cuentas"),
    ("Signed in as {}.", "Sesión iniciada como {}."),
    ("You take part in no account of {} yet.", "Todavía no participa en ninguna cuenta de {}."),
    ("Enter {}", "Entrar en {}"),
    ("(current)", "(actual)"),
    ("this panel", "este panel"),
    ("Accounts cannot be chosen here.", "Aquí no se pueden elegir cuentas."),
    ("Not allowed", "No permitido"),
    ("No access to this account", "Sin acceso a esta cuenta"),
    (
        "You are signed in as {}, but you have no access to the account {}. Choose one of your accounts, or sign out and sign in as someone else.",
        "Inició sesión como {}, pero no tiene acceso a la cuenta {}. Elija una de sus cuentas, o cierre la sesión e inicie sesión como otra persona.",
    ),
    ("Accounts cannot be checked right now", "No se pueden comprobar las cuentas ahora"),
    ("Signing in is not possible right now", "No es posible iniciar sesión ahora"),
    ("Too many sign-ins started", "Demasiados inicios de sesión empezados"),
    (
        "Too many sign-ins were started from your network in the last few minutes, so this one was not started. Please finish a sign-in you already started, or try again in a minute.",
        "Se empezaron demasiados inicios de sesión desde su red en los últimos minutos, así que este no se ha empezado. Termine uno que ya haya empezado, o inténtelo de nuevo en un minuto.",
    ),
    ("Too many sign-ins in progress", "Demasiados inicios de sesión en curso"),
    (
        "Too many sign-ins are in progress right now, so this one was not started. Please try again in a minute.",
        "Hay demasiados inicios de sesión en curso ahora mismo, así que este no se ha empezado. Inténtelo de nuevo en un minuto.",
    ),
    (
        "{} cannot check sign-ins at the moment, so nothing was signed in. If you are already signed in, you can keep working. Please try again in a minute.",
        "{} no puede comprobar los inicios de sesión en este momento, así que no se ha iniciado ninguna sesión. Si ya tiene una sesión, puede seguir trabajando. Inténtelo de nuevo en un minuto.",
    ),
    (
        "{} cannot check which accounts you may enter at the moment. Please try again in a minute.",
        "{} no puede comprobar ahora a qué cuentas puede entrar. Inténtelo de nuevo en un minuto.",
    ),
    // Invitations.
    ("Invitation", "Invitación"),
    ("Invitation not usable", "Invitación no válida"),
    ("Accept", "Aceptar"),
    ("Reject", "Rechazar"),
    ("{} invites {} into {} with: {}.", "{} invita a {} a {} con: {}."),
    ("You are now a member of {} ({}).", "Ahora es miembro de {} ({})."),
    ("The invitation was rejected.", "La invitación fue rechazada."),
    ("This form must be sent from this site.", "Este formulario debe enviarse desde este sitio."),
    // Sign-out and refusals.
    ("You are signed out", "Sesión cerrada"),
    ("Your session has ended.", "Su sesión terminó."),
    (
        "Your session has ended on this server. The other servers are told as soon as they can be reached (usually within seconds).",
        "Su sesión terminó en este servidor. Los demás servidores serán avisados en cuanto se los pueda alcanzar (normalmente en segundos).",
    ),
    ("Conflicting sign-in cookies", "Cookies de sesión en conflicto"),
    (
        "Your browser sent two sign-in cookies for {}; one of them may have been set by another site under the same domain, so neither is trusted. Remove this site's cookies in your browser (or use a private window), then sign in again.",
        "Su navegador envió dos cookies de sesión para {}; una de ellas puede haberla puesto otro sitio del mismo dominio, así que no se confía en ninguna. Borre las cookies de este sitio en su navegador (o use una ventana privada) y vuelva a iniciar sesión.",
    ),
    ("Sign-in refused", "Inicio de sesión rechazado"),
    (
        "The identity provider's answer could not be accepted. Nothing was signed in.",
        "No se pudo aceptar la respuesta del proveedor de identidad. No se inició ninguna sesión.",
    ),
    ("The sign-in was started for another site. Nothing was signed in.", "El inicio de sesión empezó en otro sitio. No se inició ninguna sesión."),
    (
        "Too many sign-ins are being checked right now. Nothing was signed in; please try again in a moment.",
        "Se están comprobando demasiados inicios de sesión en este momento. No se inició ninguna sesión; vuelva a intentarlo en un momento.",
    ),
    ("The sign-in was not started in this browser. Nothing was signed in.", "El inicio de sesión no empezó en este navegador. No se inició ninguna sesión."),
    (
        "This sign-in is unknown, expired or was already used. Nothing was signed in.",
        "Este inicio de sesión es desconocido, expiró o ya se usó. No se inició ninguna sesión.",
    ),
    (
        "The sign-in could not be completed: {}. Nothing was signed in.",
        "No se pudo completar el inicio de sesión: {}. No se inició ninguna sesión.",
    ),
    ("Form sent from another site", "Formulario enviado desde otro sitio"),
    (
        "This form was sent from another web site, so it was not acted on.",
        "Este formulario se envió desde otro sitio web, así que no se procesó.",
    ),
    // IdP and panel trouble.
    ("Single sign-on unavailable", "Inicio de sesión único no disponible"),
    (
        "{} cannot be reached right now, so {} cannot sign you in with it right now. {}",
        "No se puede contactar con {} en este momento, así que {} no puede iniciar su sesión con él ahora. {}",
    ),
    (
        "{} is not configured, so {} cannot sign you in with it. {}",
        "{} no está configurado, así que {} no puede iniciar su sesión con él. {}",
    ),
    (
        "Administrators of this panel can still sign in with the panel's own login at {} (enter your e-mail first).",
        "Los administradores de este panel pueden seguir entrando con el acceso propio del panel en {} (escriba primero su correo).",
    ),
    (
        "People the panel's own login is kept for can still sign in with their e-mail on the sign-in page.",
        "Quienes usan el acceso propio del panel pueden seguir entrando con su correo en la página de inicio de sesión.",
    ),
    ("Not configured", "No configurado"),
    ("{} has no {} configured.", "{} no tiene {} configurado."),
    ("The panel is not answering", "El panel no responde"),
    (
        "The control panel could not be reached. This is usually short: try again in a minute.",
        "No se pudo contactar con el panel de control. Suele ser breve: inténtelo de nuevo en un minuto.",
    ),
    ("Unknown panel user", "Usuario del panel desconocido"),
    (
        "Your access to {} is set up to act as the panel user “{}”, which the panel does not have. An administrator can fix this: create that user in the panel, or change the mapping (`impersonate` in the configuration, or `portero accounts {} impersonate --account … --user … --login …`).",
        "Su acceso a {} está configurado para actuar como el usuario del panel «{}», que el panel no tiene. Un administrador puede corregirlo: crear ese usuario en el panel, o cambiar la asignación (`impersonate` en la configuración, o `portero accounts {} impersonate --account … --user … --login …`).",
    ),
    // Generic.
    ("Not found", "No encontrado"),
    ("There is no page at this address.", "No hay ninguna página en esta dirección."),
    ("Method not allowed", "Método no permitido"),
    ("This address does not take that method.", "Esta dirección no admite ese método."),
    ("Unknown host", "Sitio desconocido"),
    ("This address is not served here. Check the address you typed.", "Esta dirección no se sirve aquí. Revise la dirección que escribió."),
    ("Something went wrong", "Algo salió mal"),
    ("This request could not be handled. Please try again.", "No se pudo atender esta solicitud. Inténtelo de nuevo."),
    ("Bad request", "Solicitud incorrecta"),
    (
        "The field “{}” was sent more than once, so nothing was done.",
        "El campo «{}» se envió más de una vez, así que no se hizo nada.",
    ),
    (
        "A field was not valid text (UTF-8), so nothing was done.",
        "Un campo no era texto válido (UTF-8), así que no se hizo nada.",
    ),
    (
        "The form was not sent as a web form in UTF-8, so nothing was done.",
        "El formulario no se envió como formulario web en UTF-8, así que no se hizo nada.",
    ),
    ("Secured by Portero", "Protegido por Portero"),
    // Members page, leaving an account.
    ("Members", "Miembros"),
    ("Member", "Miembro"),
    ("Permissions", "Permisos"),
    ("Leave", "Salir"),
    ("you", "usted"),
    ("Change", "Cambiar"),
    ("Save permissions", "Guardar permisos"),
    ("Remove from the account", "Quitar de la cuenta"),
    ("People who take part in {}.", "Personas que participan en {}."),
    ("Invitations pending", "Invitaciones pendientes"),
    ("Invited by {}; the link works until {}.", "Invitación de {}; el enlace funciona hasta {}."),
    ("Send again", "Enviar de nuevo"),
    ("Cancel", "Cancelar"),
    ("Invite someone", "Invitar a alguien"),
    ("E-mail address", "Dirección de correo electrónico"),
    ("Choose permissions", "Elegir permisos"),
    ("Without a choice, the invited person gets Administrator (everything).", "Sin elegir, la persona invitada recibe Administrador (todo)."),
    ("Without a choice, the invited person gets what you hold: {}.", "Sin elegir, la persona invitada recibe lo que usted tiene: {}."),
    ("Send invitation", "Enviar invitación"),
    ("You do not hold this permission, so you cannot grant or remove it.", "Usted no tiene este permiso, así que no puede concederlo ni quitarlo."),
    ("Only members who may invite see and change who takes part in this account.", "Solo los miembros que pueden invitar ven y cambian quién participa en esta cuenta."),
    ("Leave {}? You will no longer enter it; another member can invite you again.", "¿Salir de {}? Ya no podrá entrar en ella; otro miembro puede volver a invitarle."),
    ("Leave the account", "Salir de la cuenta"),
    ("Stay", "Quedarse"),
    ("Account left", "Ha salido de la cuenta"),
    ("You left {}. Another member can invite you again.", "Ha salido de {}. Otro miembro puede volver a invitarle."),
    ("Done.", "Hecho."),
    ("An invitation was sent to {}.", "Se envió una invitación a {}."),
    ("The invitation for {} is kept, but its mail could not be sent ({}). Pass on this link yourself:", "La invitación para {} se guardó, pero su correo no pudo enviarse ({}). Comparta usted este enlace:"),
    ("The invitation for {} is ready. Pass on this link:", "La invitación para {} está lista. Comparta este enlace:"),
    ("Nothing was changed", "No se cambió nada"),
    ("An account cannot be left empty: you are its last member. Invite someone else first, then leave.", "Una cuenta no puede quedar vacía: usted es su último miembro. Invite primero a otra persona y luego salga."),
    ("An account never loses its last member.", "Una cuenta nunca pierde su último miembro."),
    ("You are not a member of this account.", "Usted no es miembro de esta cuenta."),
    ("Inviting needs the Invite permission.", "Para invitar hace falta el permiso Invitar."),
    ("You can only grant or remove permissions you hold yourself, and you do not hold: {}.", "Solo puede conceder o quitar permisos que usted mismo tiene, y no tiene: {}."),
    ("Choose at least one permission.", "Elija al menos un permiso."),
    ("The change could not be saved; nothing was changed. Please try again.", "No se pudo guardar el cambio; no se cambió nada. Inténtelo de nuevo."),
    // Invitations received on the accounts page, accounts through a reseller.
    ("Invitations for you", "Invitaciones para usted"),
    ("Invited by {}; you can accept until {}.", "Invitación de {}; puede aceptarla hasta {}."),
    ("through {}", "a través de {}"),
    ("The form must name one invitation, by its link or by its id.", "El formulario debe indicar una invitación, por su enlace o por su identificador."),
    ("there is no such invitation for you.", "no hay ninguna invitación así para usted."),
    // Profile page.
    ("Your profile", "Su perfil"),
    ("Name", "Nombre"),
    ("(not given)", "(no indicado)"),
    ("Sign-in method", "Método de inicio de sesión"),
    ("External sign-in page", "Página de acceso externa"),
    ("Display name", "Nombre para mostrar"),
    ("What the panel shows as your name. Leave it empty to use the name your sign-in provider gives.", "Lo que el panel muestra como su nombre. Déjelo vacío para usar el nombre que da su proveedor de inicio de sesión."),
    ("Save", "Guardar"),
    ("Your name was saved.", "Se guardó su nombre."),
    ("Your name is managed by your sign-in provider, so it cannot be changed here.", "Su nombre lo gestiona su proveedor de inicio de sesión, así que no se puede cambiar aquí."),
    ("Your details cannot be changed on this page.", "Sus datos no se pueden cambiar en esta página."),
    ("A name may have at most 100 characters, and no line breaks or other control characters.", "Un nombre puede tener como mucho 100 caracteres, y ningún salto de línea ni otro carácter de control."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_with_q_values() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("es-AR,es;q=0.9,en;q=0.8")),
            Lang::Es
        );
        assert_eq!(Lang::from_accept_language(Some("en-US,es;q=0.5")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("fr-FR,es;q=0.7,en;q=0.3")),
            Lang::Es
        );
        assert_eq!(Lang::from_accept_language(Some("es;q=0,en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("de,fr")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("*")), Lang::En);
    }

    #[test]
    fn translated_into_the_language_given() {
        assert_eq!(tr(Lang::En, "Sign in"), "Sign in");
        assert_eq!(tr(Lang::Es, "Sign in"), "Iniciar sesión");
        assert_eq!(tr(Lang::Es, "not in the catalogue"), "not in the catalogue");
        assert_eq!(trf(Lang::Es, "Enter {}", &["a.test"]), "Entrar en a.test");
        assert_eq!(trf(Lang::En, "Enter {}", &["a.test"]), "Enter a.test");
    }

    #[test]
    fn every_spanish_template_keeps_its_placeholders() {
        for (en, es) in SPANISH {
            assert_eq!(en.matches("{}").count(), es.matches("{}").count(), "{en}");
        }
        let mut keys: Vec<&str> = SPANISH.iter().map(|(k, _)| *k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), SPANISH.len(), "a key is listed twice");
    }
}
