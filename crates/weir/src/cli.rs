//! The command line: `weir serve | demo | migrate | tenant create | token create | user create`.
//! Every option of [`Settings`] is accepted by every command, as a flag or
//! a `WEIR_*` variable.

use clap::{Parser, Subcommand};

use crate::config::Settings;

/// Weir: a self-hosted integration hub.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve {
        /// What this instance does: api, worker, scheduler or all (the same
        /// as --instance-role / WEIR_ROLE).
        #[arg(long, value_parser = ["api", "worker", "scheduler", "all"])]
        role: Option<String>,
        /// Every server option (flag, `WEIR_*` variable or config file).
        #[command(flatten)]
        settings: Settings,
    },
    /// Run a self-contained demo: a living dashboard with one command.
    ///
    /// The server runs as `serve` does, on a database of its own
    /// (./weir-demo.db and its key ./weir-demo.key, unless --database-url is
    /// given), with a fake partner on 127.0.0.1, a seeded `demo` tenant and
    /// live traffic, until Ctrl-C. Prints the dashboard URL and an admin token
    /// to sign in with. Safe to run again on the same database.
    Demo {
        /// Options, as for `serve` (the listen address must be loopback).
        #[command(flatten)]
        settings: Settings,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// Every server option (flag, `WEIR_*` variable or config file).
        #[command(flatten)]
        settings: Settings,
    },
    /// Manage tenants.
    Tenant {
        /// Tenant command.
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage API tokens.
    Token {
        /// Token command.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage users.
    User {
        /// User command.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Maintain the dashboard's day rollups.
    Rollups {
        /// Rollups command.
        #[command(subcommand)]
        command: RollupsCommand,
    },
    /// Maintain the audit trail.
    Audit {
        /// Audit command.
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// `weir audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Re-key every tenant's audit chain that still verifies under the
    /// unkeyed hash of builds before 2026-12-03 (the first start after the
    /// upgrade does this by itself; run it only if that start was
    /// interrupted). Prints the chains re-keyed.
    Rekey {
        /// Every server option (flag, `WEIR_*` variable or config file).
        #[command(flatten)]
        settings: Settings,
    },
}

/// `weir rollups …`
#[derive(Debug, Subcommand)]
pub enum RollupsCommand {
    /// Recompute every tenant's day rollups from events, runs and the audit
    /// trail (replacing the stored ones); prints the rows written.
    Rebuild {
        /// Every server option (flag, `WEIR_*` variable or config file).
        #[command(flatten)]
        settings: Settings,
    },
}

/// `weir tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints it as JSON.
    Create {
        /// Unique slug, e.g. acme.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Every server option (flag, `WEIR_*` variable or config file).
        #[command(flatten)]
        settings: Settings,
    },
}

/// `weir user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Invite a user to a tenant (e.g. its first admin); prints the user and
    /// the single-use invitation link as JSON.
    Create {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// Their email.
        #[arg(long)]
        email: String,
        /// Their display name (default: the email's local part).
        #[arg(long)]
        name: Option<String>,
        /// viewer, operator or admin.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Every server option (flag, `WEIR_*` variable or config file).
        #[command(flatten)]
        settings: Settings,
    },
}

/// `weir token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a tenant; prints it (once) as JSON.
    Create {
        /// The tenant's slug or id.
        #[arg(long)]
        tenant: String,
        /// Label for the token.
        #[arg(long)]
        name: String,
        /// viewer, operator or admin.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Every server option (flag, `WEIR_*` variable or config file).
        #[command(flatten)]
        settings: Settings,
    },
}
