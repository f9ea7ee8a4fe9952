using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Chat.MigrationService.Migrations
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "chat_conversations",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    title = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    model = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    provider = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    system_prompt = table.Column<string>(type: "text", nullable: true),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, defaultValueSql: "'active'"),
                    message_count = table.Column<int>(type: "integer", nullable: false, defaultValue: 0),
                    last_message_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_activity_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, computedColumnSql: "coalesce(last_message_at, created_at)", stored: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    deleted_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_chat_conversations", x => x.id);
                    table.CheckConstraint("ck_chat_conversations_message_count", "message_count >= 0");
                    table.CheckConstraint("ck_chat_conversations_status", "status IN ('active', 'archived')");
                });

            migrationBuilder.CreateTable(
                name: "chat_messages",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    conversation_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    role = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    content = table.Column<string>(type: "text", nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, defaultValueSql: "'completed'"),
                    model = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    provider = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    prompt_tokens = table.Column<int>(type: "integer", nullable: true),
                    completion_tokens = table.Column<int>(type: "integer", nullable: true),
                    total_tokens = table.Column<int>(type: "integer", nullable: true),
                    finish_reason = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    client_message_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    generation_id = table.Column<Guid>(type: "uuid", nullable: true),
                    parent_message_id = table.Column<Guid>(type: "uuid", nullable: true),
                    context_message_ids = table.Column<List<Guid>>(type: "uuid[]", nullable: true),
                    context_tokens = table.Column<int>(type: "integer", nullable: true),
                    time_to_first_token_ms = table.Column<int>(type: "integer", nullable: true),
                    duration_ms = table.Column<int>(type: "integer", nullable: true),
                    error_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "clock_timestamp()"),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "clock_timestamp()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_chat_messages", x => x.id);
                    table.CheckConstraint("ck_chat_messages_role", "role IN ('system', 'user', 'assistant')");
                    table.CheckConstraint("ck_chat_messages_status", "status IN ('completed', 'streaming', 'failed', 'cancelled')");
                    table.ForeignKey(
                        name: "fk_chat_messages_conversation",
                        column: x => x.conversation_id,
                        principalTable: "chat_conversations",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_chat_conversations_deleted_at",
                table: "chat_conversations",
                column: "deleted_at",
                filter: "deleted_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_chat_conversations_owner_deleted",
                table: "chat_conversations",
                columns: new[] { "tenant_id", "user_id", "deleted_at" },
                filter: "deleted_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_chat_conversations_owner_recency",
                table: "chat_conversations",
                columns: new[] { "tenant_id", "user_id", "status", "last_activity_at", "id" },
                descending: new[] { false, false, false, true, true },
                filter: "deleted_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_chat_messages_conversation_order",
                table: "chat_messages",
                columns: new[] { "conversation_id", "created_at", "id" });

            migrationBuilder.CreateIndex(
                name: "ux_chat_messages_client_message_id",
                table: "chat_messages",
                columns: new[] { "conversation_id", "client_message_id" },
                unique: true,
                filter: "client_message_id IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ux_chat_messages_generation_id",
                table: "chat_messages",
                column: "generation_id",
                unique: true,
                filter: "generation_id IS NOT NULL");

            // The database keeps timestamps and counters right, whoever writes: updated_at on every update, and
            // message_count / last_message_at on every message insert or delete. The UPDATE takes the
            // conversation's row lock, so concurrent inserts serialise on it and the count stays exact.
            migrationBuilder.Sql("""
                CREATE FUNCTION chat_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.updated_at := now();
                    RETURN NEW;
                END $$;

                CREATE TRIGGER trg_chat_conversations_updated_at BEFORE UPDATE ON chat_conversations
                    FOR EACH ROW EXECUTE FUNCTION chat_set_updated_at();
                CREATE TRIGGER trg_chat_messages_updated_at BEFORE UPDATE ON chat_messages
                    FOR EACH ROW EXECUTE FUNCTION chat_set_updated_at();

                CREATE FUNCTION chat_messages_maintain_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        UPDATE chat_conversations
                           SET message_count = message_count + 1,
                               last_message_at = GREATEST(COALESCE(last_message_at, NEW.created_at), NEW.created_at)
                         WHERE id = NEW.conversation_id;
                        RETURN NEW;
                    END IF;
                    UPDATE chat_conversations
                       SET message_count = message_count - 1
                     WHERE id = OLD.conversation_id;
                    RETURN OLD;
                END $$;

                CREATE TRIGGER trg_chat_messages_maintain_conversation AFTER INSERT OR DELETE ON chat_messages
                    FOR EACH ROW EXECUTE FUNCTION chat_messages_maintain_conversation();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS trg_chat_messages_maintain_conversation ON chat_messages;
                DROP TRIGGER IF EXISTS trg_chat_messages_updated_at ON chat_messages;
                DROP TRIGGER IF EXISTS trg_chat_conversations_updated_at ON chat_conversations;
                DROP FUNCTION IF EXISTS chat_messages_maintain_conversation();
                DROP FUNCTION IF EXISTS chat_set_updated_at();
                """);

            migrationBuilder.DropTable(
                name: "chat_messages");

            migrationBuilder.DropTable(
                name: "chat_conversations");
        }
    }
}
