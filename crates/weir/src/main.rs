//! `weir`: parses the command line, loads configuration and runs the chosen
//! command. The binary's edge: errors become `anyhow` messages here and
//! nowhere else.

use anyhow::{Context, bail};
use clap::Parser;
use weir::app::{open_store, run, shutdown_signal};
use weir::cli::{AuditCommand, Cli, Command, RollupsCommand, TenantCommand, TokenCommand, UserCommand};
use weir::config::{Config, Settings, unknown_env_vars};
use weir_core::user::{Email, UserName};
use weir_core::{ApiTokenName, Role, TenantName, TenantSlug};
use weir_store::{Issuer, NewTenant, NewToken, NewUser, Store, StoreError, SystemScope, Tenant};

/// mimalloc: under webhook load the system allocator's locking and
/// consolidation showed as a fifth of the server's CPU profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(settings: Settings) -> anyhow::Result<Config> {
    let config = settings.resolve()?;
    weir::telemetry::init(&config.log, config.log_format);
    for name in unknown_env_vars() {
        tracing::warn!(variable = %name, "unknown WEIR_* environment variable ignored");
    }
    Ok(config)
}

fn main() -> anyhow::Result<()> {
    // reqwest is built without a default TLS provider: install ring's once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(dispatch(cli.command))
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { role, settings } => {
            let settings = Settings { instance_role: role.or(settings.instance_role), ..settings };
            let config = load(settings)?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            run(config, listener, shutdown_signal()).await?;
        }
        Command::Demo { settings } => {
            let prepared = weir::demo::demo_settings(settings, std::path::Path::new("."))?;
            let config = load(prepared.settings)?;
            let options = weir::demo::DemoOptions { own_database: prepared.own_database, ..Default::default() };
            let demo = weir::demo::start(config, options).await?;
            println!("{}", demo.banner());
            shutdown_signal().await;
            demo.shutdown().await?;
        }
        Command::Audit { command: AuditCommand::Rekey { settings } } => {
            let config = load(settings)?;
            let store = open_store(&config).await?;
            let key = weir::app::resolve_master_key(&store, &config).await?;
            let store = store.with_audit_key(weir_core::audit::AuditKey::derive(&key));
            let rekeyed = store.upgrade_audit_chain(true).await?;
            store.close().await;
            println!("{}", serde_json::json!({"chains_rekeyed": rekeyed}));
        }
        Command::Rollups { command: RollupsCommand::Rebuild { settings } } => {
            let config = load(settings)?;
            let store = open_store(&config).await?;
            let rows = store.rebuild_rollups(&SystemScope::local_operator()).await?;
            store.close().await;
            println!("{}", serde_json::json!({"rollup_rows": rows}));
        }
        Command::Migrate { settings } => {
            let config = load(settings)?;
            let store = open_store(&config).await?;
            store.close().await;
            tracing::info!(database = %config.database_url.redacted(), "migrations applied");
        }
        Command::Tenant { command: TenantCommand::Create { slug, name, settings } } => {
            let config = load(settings)?;
            let slug = TenantSlug::parse(&slug).context("--slug")?;
            let name = TenantName::parse(&name).context("--name")?;
            let store = open_store(&config).await?;
            let tenant = store.create_tenant(&SystemScope::local_operator(), NewTenant { slug, name }).await.map_err(
                |e| match e {
                    StoreError::Conflict(c) => anyhow::anyhow!(c.message()),
                    other => other.into(),
                },
            )?;
            store.close().await;
            println!("{}", serde_json::json!({"id": tenant.id, "slug": tenant.slug, "name": tenant.name}));
        }
        Command::Token { command: TokenCommand::Create { tenant, name, role, settings } } => {
            let config = load(settings)?;
            let name = ApiTokenName::parse(&name).context("--name")?;
            let Ok(role) = role.parse::<Role>() else { bail!("--role must be viewer, operator or admin") };
            let store = open_store(&config).await?;
            let cap = SystemScope::local_operator();
            let tenant = find_tenant(&store, &tenant).await?;
            let scope = store.tenant_scope(&cap, &tenant.id).await?;
            let issued = store.create_token(&scope, NewToken::new(name, role), Issuer::Outside("cli")).await?;
            store.close().await;
            println!(
                "{}",
                serde_json::json!({
                    "id": issued.token.id, "tenant_id": tenant.id, "name": issued.token.name,
                    "role": issued.token.role, "token": issued.plain.expose(),
                })
            );
        }
        Command::User { command: UserCommand::Create { tenant, email, name, role, settings } } => {
            let config = load(settings)?;
            let email = Email::parse(&email).context("--email")?;
            let name = name.unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_owned());
            let name = UserName::parse(&name).context("--name")?;
            let Ok(role) = role.parse::<Role>() else { bail!("--role must be viewer, operator or admin") };
            let store = open_store(&config).await?;
            let key = weir::app::resolve_master_key(&store, &config).await?;
            let store = store.with_audit_key(weir_core::audit::AuditKey::derive(&key));
            let tenant = find_tenant(&store, &tenant).await?;
            let scope = store.tenant_scope(&SystemScope::local_operator(), &tenant.id).await?;
            let invited =
                store.create_user(&scope, NewUser { email, name, role }, "cli", config.sessions.invite_ttl()).await;
            let invited = invited.map_err(|e| match e {
                StoreError::Conflict(c) => anyhow::anyhow!(c.message()),
                other => other.into(),
            })?;
            store.close().await;
            println!(
                "{}",
                serde_json::json!({
                    "id": invited.user.id, "tenant_id": tenant.id, "email": invited.user.email,
                    "name": invited.user.name, "role": invited.user.role, "status": invited.user.status,
                    "invite_url": format!("/#/invite/{}", invited.secret),
                    "invite_expires_at": invited.expires_at,
                })
            );
        }
    }
    Ok(())
}

/// A tenant by slug, else by id.
async fn find_tenant(store: &Store, slug_or_id: &str) -> anyhow::Result<Tenant> {
    let cap = SystemScope::local_operator();
    let found = match store.get_tenant_by_slug(&cap, slug_or_id).await {
        Err(StoreError::NotFound) => store.get_tenant(&cap, slug_or_id).await,
        other => other,
    };
    match found {
        Err(StoreError::NotFound) => bail!("no tenant with slug or id {slug_or_id:?}"),
        other => Ok(other?),
    }
}
